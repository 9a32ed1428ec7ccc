//! OpenAI CLIP: vision and text transformers, tokenizer, preprocessing.
