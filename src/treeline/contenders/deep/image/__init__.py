"""Networks on images: a CNN from scratch, ResNet18 and MobileNetV2 (torchvision)."""
