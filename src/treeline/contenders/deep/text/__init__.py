"""Networks on text: from scratch over word tokens, and on a pretrained sentence encoder."""
