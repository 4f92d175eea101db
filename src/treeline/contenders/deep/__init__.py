"""Deep contenders: the shared training loop, and one subpackage of networks per modality."""
