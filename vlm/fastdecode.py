"""A lean greedy decoder for one conversation on Llama-family LLMs (Llama, SmolLM, Qwen2).

``generate`` spends much of a CPU decoding step outside the matmuls: Python module calls, mask
and cache bookkeeping, seven separate projections per layer. This decoder runs the same
arithmetic with the LLM's own norms and rotary embedding, but with

- q/k/v and gate/up fused into one projection each (two weight reads fewer per layer),
- a preallocated KV cache (no concatenation, no cache objects), fp32 on a CPU even for a bf16
  model (torch's bf16 attention over one new token is 4x slower there than its fp32 form),
- no masks (one unpadded sequence), no logits processors, argmax on the last position only.

It is what ``generate_ids`` uses for a single greedy answer on an inference model; everything else
(batches, sampling, other architectures) goes through ``llm.generate``::

    decoder = FastDecoder.from_llm(model.llm)             # None if the architecture is not covered
    ids = decoder.generate(inputs_embeds, max_new_tokens=32, eos_token_ids=[2])   # (1, new)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

SUPPORTED = ("llama", "qwen2")


def _fuse(*linears: nn.Linear) -> nn.Linear:
    """One linear layer computing the concatenated outputs of ``linears`` (same input); a copy."""
    weight = torch.cat([lin.weight.detach() for lin in linears], dim=0)  # (sum out, in)
    fused = nn.Linear(weight.shape[1], weight.shape[0], bias=False, device="meta")
    fused.weight = nn.Parameter(weight, requires_grad=False)
    if any(lin.bias is not None for lin in linears):
        bias = [
            lin.bias.detach() if lin.bias is not None else weight.new_zeros(lin.out_features)
            for lin in linears
        ]
        fused.bias = nn.Parameter(torch.cat(bias), requires_grad=False)
    return fused


def cache_dtype_for(dtype: torch.dtype, device: torch.device) -> torch.dtype:
    """The KV cache's (and attention's) dtype: fp32 on a CPU, where torch's bf16 attention over one
    new token costs about 4x its fp32 form (``benchmarks/cpu_attention.py --decode 200``: 185
    against 45 us a layer for SmolLM2-135M on 2 Zen 4 threads) and the cache is small (10 MB for
    230 positions); the model's dtype elsewhere."""
    return torch.float32 if torch.device(device).type == "cpu" else dtype


def _base(llm: nn.Module) -> nn.Module:
    """The transformers model under a peft wrapper (or ``llm`` itself)."""
    return llm.get_base_model() if hasattr(llm, "get_base_model") else llm


def _plain_linear(module: nn.Module) -> nn.Linear | None:
    """The nn.Linear behind ``module`` (a peft layer must be merged or unloaded), else None."""
    if isinstance(module, nn.Linear) and type(module) is nn.Linear:
        return module
    base = getattr(module, "base_layer", None)
    if isinstance(base, nn.Linear) and getattr(module, "merged", False):
        return base
    return None


class _Layer(nn.Module):
    """One decoder layer's weights: the LLM's two norms, fused qkv, o, fused gate/up, down."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        attn, mlp = layer.self_attn, layer.mlp
        lin = {n: _plain_linear(getattr(attn, n)) for n in ("q_proj", "k_proj", "v_proj", "o_proj")}
        lin.update({n: _plain_linear(getattr(mlp, n)) for n in ("gate_proj", "up_proj", "down_proj")})
        if any(v is None for v in lin.values()):
            raise TypeError("unmerged adapter or unexpected projection type")
        self.input_norm, self.post_norm = layer.input_layernorm, layer.post_attention_layernorm
        self.qkv = _fuse(lin["q_proj"], lin["k_proj"], lin["v_proj"])
        self.o = lin["o_proj"]
        self.gate_up = _fuse(lin["gate_proj"], lin["up_proj"])
        self.down = lin["down_proj"]
        self.q_size, self.kv_size = lin["q_proj"].out_features, lin["k_proj"].out_features
        self.act = mlp.act_fn


class FastDecoder(nn.Module):
    """Greedy decoding of one prompt with fused projections and a preallocated KV cache."""

    def __init__(self, llm: nn.Module) -> None:
        super().__init__()
        base = _base(llm)
        config = base.config
        self.embed = base.get_input_embeddings()
        self.rotary = base.model.rotary_emb
        self.final_norm = base.model.norm
        self.layers = nn.ModuleList(_Layer(layer) for layer in base.model.layers)
        head = _plain_linear(base.get_output_embeddings())
        if head is None:
            raise TypeError("unexpected LM head type")
        self.head = nn.Linear(head.in_features, head.out_features, bias=False, device="meta")
        self.head.weight = head.weight  # shared (tied to the embeddings in most small LLMs)
        self.head.bias = head.bias
        weight = self.embed.weight
        self.source = (weight.device, weight.dtype)  # where the fused copies were made
        self.heads, self.kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.scale = self.head_dim**-0.5

    @classmethod
    def from_llm(cls, llm: nn.Module) -> FastDecoder | None:
        """A decoder over ``llm``'s weights, or None when its architecture is not covered."""
        config = getattr(_base(llm), "config", None)
        if getattr(config, "model_type", None) not in SUPPORTED or getattr(
            config, "use_sliding_window", False
        ):
            return None
        if (
            getattr(config, "rope_scaling", None)
            and config.rope_scaling.get("rope_type", "default") != "default"
        ):
            return None
        try:
            return cls(llm)
        except (TypeError, AttributeError):
            return None

    def built_for(self, llm: nn.Module) -> bool:
        """Whether the fused copies still match ``llm``'s device and dtype (a ``.to()`` since?)."""
        weight = llm.get_input_embeddings().weight
        return self.source == (weight.device, weight.dtype)

    # -- one forward over new positions ------------------------------------------------------------
    def _attend(self, layer: _Layer, x, cos, sin, cache_k, cache_v, start: int) -> torch.Tensor:
        """Self-attention of the L new tokens ``x`` (1, L, W) at positions start..start+L-1."""
        L = x.shape[1]
        q, k, v = layer.qkv(x).split([layer.q_size, layer.kv_size, layer.kv_size], dim=-1)
        q = q.view(1, L, self.heads, self.head_dim).transpose(1, 2)  # (1, H, L, d)
        k = k.view(1, L, self.kv_heads, self.head_dim).transpose(1, 2)  # (1, Hkv, L, d)
        v = v.view(1, L, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        end = start + L
        cache_k[:, :, start:end] = k  # cast to the cache's dtype
        cache_v[:, :, start:end] = v
        out = F.scaled_dot_product_attention(
            q.to(cache_k.dtype),
            cache_k[:, :, :end],
            cache_v[:, :, :end],
            is_causal=L > 1,
            scale=self.scale,
            enable_gqa=True,
        )  # (1, H, L, d)
        return layer.o(out.to(x.dtype).transpose(1, 2).reshape(1, L, -1))

    def _forward(self, x: torch.Tensor, caches, start: int) -> torch.Tensor:
        """Hidden states (1, L, W) at positions start.. -> next-token logits (1, V) of the last one."""
        positions = torch.arange(start, start + x.shape[1], device=x.device)[None]  # (1, L)
        cos, sin = self.rotary(x, positions)
        for layer, (cache_k, cache_v) in zip(self.layers, caches):
            x = x + self._attend(layer, layer.input_norm(x), cos, sin, cache_k, cache_v, start)
            gate, up = layer.gate_up(layer.post_norm(x)).chunk(2, dim=-1)
            x = x + layer.down(layer.act(gate) * up)
        return self.head(self.final_norm(x[:, -1:]))[:, 0].float()  # (1, V)

    @torch.no_grad()
    def generate(
        self,
        inputs_embeds: torch.Tensor,
        max_new_tokens: int,
        eos_token_ids: Sequence[int],
        min_new_tokens: int = 0,
        streamer=None,
        should_stop: Callable[[torch.Tensor], bool] | None = None,
    ) -> torch.Tensor:
        """Greedy new token ids (1, n) for one unpadded prompt ``inputs_embeds`` (1, L, W); n stops
        at an end token (kept, as ``generate`` does), ``max_new_tokens`` or ``should_stop(ids)``."""
        if inputs_embeds.shape[0] != 1:
            raise ValueError("FastDecoder decodes one prompt at a time")
        length = inputs_embeds.shape[1] + max_new_tokens
        shape = (1, self.kv_heads, length, self.head_dim)
        dtype, device = inputs_embeds.dtype, inputs_embeds.device
        cache_dtype = cache_dtype_for(dtype, device)
        caches = [
            (
                torch.empty(shape, dtype=cache_dtype, device=device),
                torch.empty(shape, dtype=cache_dtype, device=device),
            )
            for _ in self.layers
        ]
        eos = torch.tensor(list(eos_token_ids), dtype=torch.long, device=device)
        if streamer is not None:
            streamer.put(torch.empty(1, 0, dtype=torch.long))  # the prompt, as generate() does
        logits, start, new = self._forward(inputs_embeds, caches, 0), inputs_embeds.shape[1], []
        while len(new) < max_new_tokens:
            if len(new) < min_new_tokens and len(eos):
                logits[:, eos] = float("-inf")
            token = logits.argmax(-1)  # (1,)
            new.append(token)
            if streamer is not None:
                streamer.put(token.cpu())
            if bool((eos == token).any()) or (
                should_stop is not None and should_stop(torch.stack(new, dim=1))
            ):
                break
            if len(new) < max_new_tokens:
                logits = self._forward(self.embed(token)[:, None].to(dtype), caches, start)
                start += 1
        if streamer is not None:
            streamer.end()
        return torch.stack(new, dim=1) if new else torch.empty(1, 0, dtype=torch.long, device=device)
