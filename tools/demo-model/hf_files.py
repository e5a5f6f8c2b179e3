"""Tokenizer, processor and model configuration of the Lumen demo VLM, laid out like SmolVLM.

- `train_tokenizer(dir)`: byte-level BPE (`tokenizers`) trained on the scene Q&A corpus, with
  SmolVLM's special tokens and chat format, saved with the Idefics3 processor (image splitting,
  256 px tiles, longest edge 1024) so both transformers (Python) and @huggingface/transformers
  (JS) load the folder as Idefics3.
- `model_config(tokenizer)`: a tiny Idefics3 config (SigLIP-style vision tower, patch 16,
  pixel shuffle x4, Llama text model), a few million parameters.
- `finish_files(dir)`: the file-level details the real SmolVLM repositories have
  (chat_template.json, chat_template in tokenizer_config.json, special_tokens_map.json).
Runs on the GPU host (needs tokenizers + transformers).
"""
from __future__ import annotations

import json
import os
import random

import scenes

TILE = 256          # max_image_size.longest_edge: one vision tile, 16x16 patches of 16 px
LONGEST_EDGE = 1024  # size.longest_edge: up to 4x4 tiles + the global image
PATCH = 16
SCALE_FACTOR = 4
IMAGE_SEQ_LEN = (TILE // PATCH) ** 2 // SCALE_FACTOR ** 2  # 16 tokens per tile
VOCAB_SIZE = 1024

# SmolVLM's chat template (tokenizer_config.json / chat_template.json of SmolVLM-256M-Instruct).
CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n"
    "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<fake_token_around_image>", "<image>",
           "<end_of_utterance>", "<global-img>"]
ROW_COL = [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
ADDITIONAL = ["<fake_token_around_image>", "<image>", "<end_of_utterance>"]

PREPROCESSOR = {
    "do_convert_rgb": True, "do_image_splitting": True, "do_normalize": True, "do_pad": True,
    "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
    "image_processor_type": "Idefics3ImageProcessor", "image_std": [0.5, 0.5, 0.5],
    "max_image_size": {"longest_edge": TILE}, "processor_class": "Idefics3Processor",
    "resample": 1, "rescale_factor": 1 / 255, "size": {"longest_edge": LONGEST_EDGE},
}


def corpus(n_scenes: int = 6000) -> list[str]:
    """Every question and answer form the model will see, from training seeds."""
    texts = []
    for seed in range(n_scenes):
        sc = scenes.make_scene(seed, render=False)
        rng = random.Random(seed)
        for t in scenes.QTYPES:
            _, q, a = scenes.make_qa(sc, rng, t)
            texts.append(f"User: {q}\nAssistant: {a}")
    return texts


def train_tokenizer(out_dir: str):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Idefics3ImageProcessor, Idefics3Processor, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIAL + ROW_COL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<end_of_utterance>",
        pad_token="<|im_end|>", unk_token="<|endoftext|>", model_max_length=8192,
        clean_up_tokenization_spaces=False)
    image_processor = Idefics3ImageProcessor(**{k: v for k, v in PREPROCESSOR.items()
                                                if k not in ("image_processor_type", "processor_class")})
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=fast,
                                  image_seq_len=IMAGE_SEQ_LEN, chat_template=CHAT_TEMPLATE)
    os.makedirs(out_dir, exist_ok=True)
    processor.save_pretrained(out_dir)
    finish_files(out_dir)
    return load_processor(out_dir)


def load_processor(path: str):
    from transformers import AutoProcessor
    return AutoProcessor.from_pretrained(path, use_fast=False)


def finish_files(out_dir: str) -> None:
    """Make the folder match SmolVLM's repository layout, whatever this transformers writes."""
    def rw(name: str, update) -> None:
        p = os.path.join(out_dir, name)
        data = json.load(open(p)) if os.path.exists(p) else {}
        update(data)
        with open(p, "w") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")

    def tok_cfg(d: dict) -> None:
        d["chat_template"] = CHAT_TEMPLATE
        d["tokenizer_class"] = "GPT2Tokenizer"
        d["processor_class"] = "Idefics3Processor"
        d["bos_token"], d["eos_token"] = "<|im_start|>", "<end_of_utterance>"
        d["pad_token"], d["unk_token"] = "<|im_end|>", "<|endoftext|>"
        d["additional_special_tokens"] = ADDITIONAL
        d["add_prefix_space"] = False
        d["clean_up_tokenization_spaces"] = False
        for junk in ("extra_special_tokens", "is_local", "local_files_only"):
            d.pop(junk, None)

    rw("tokenizer_config.json", tok_cfg)
    rw("chat_template.json", lambda d: d.update({"chat_template": CHAT_TEMPLATE}))
    rw("special_tokens_map.json", lambda d: d.update({
        "additional_special_tokens": ADDITIONAL, "bos_token": "<|im_start|>", "eos_token": "<end_of_utterance>",
        "pad_token": "<|im_end|>", "unk_token": "<|endoftext|>"}))
    rw("preprocessor_config.json", lambda d: (d.clear(), d.update(PREPROCESSOR)))
    rw("processor_config.json", lambda d: (d.clear(), d.update(
        {"image_seq_len": IMAGE_SEQ_LEN, "processor_class": "Idefics3Processor"})))
    jinja = os.path.join(out_dir, "chat_template.jinja")
    if os.path.exists(jinja):  # SmolVLM ships chat_template.json, not .jinja
        os.remove(jinja)


def model_config(tokenizer, text_layers: int = 4):
    from transformers import Idefics3Config
    ids = tokenizer.convert_tokens_to_ids
    text = dict(
        model_type="llama", vocab_size=len(tokenizer), hidden_size=256, intermediate_size=512,
        num_hidden_layers=text_layers, num_attention_heads=4, num_key_value_heads=2, head_dim=64,
        hidden_act="silu", max_position_embeddings=2048, rms_norm_eps=1e-5, rope_theta=100000.0,
        tie_word_embeddings=False, bos_token_id=ids("<|im_start|>"), eos_token_id=ids("<end_of_utterance>"),
        pad_token_id=ids("<|im_end|>"), attention_bias=False, mlp_bias=False)
    vision = dict(
        model_type="idefics3_vision", hidden_size=128, intermediate_size=512, num_hidden_layers=4,
        num_attention_heads=4, num_channels=3, image_size=TILE, patch_size=PATCH,
        hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6)
    return Idefics3Config(
        vision_config=vision, text_config=text, scale_factor=SCALE_FACTOR, image_token_id=ids("<image>"),
        tie_word_embeddings=False, pad_token_id=ids("<|im_end|>"), bos_token_id=ids("<|im_start|>"),
        eos_token_id=ids("<end_of_utterance>"), use_cache=True)


def generation_config(tokenizer) -> dict:
    ids = tokenizer.convert_tokens_to_ids
    return {"bos_token_id": ids("<|im_start|>"), "eos_token_id": ids("<end_of_utterance>"),
            "pad_token_id": ids("<|im_end|>"), "do_sample": False, "max_new_tokens": 128}


if __name__ == "__main__":  # python3 hf_files.py OUT_DIR: train the tokenizer and save the processor there
    import sys
    proc = train_tokenizer(sys.argv[1])
    print(f"tokenizer: {len(proc.tokenizer)} tokens in {sys.argv[1]}: {sorted(os.listdir(sys.argv[1]))}")
