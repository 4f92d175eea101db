"""Networks on audio waveforms: a CNN on log-mel spectrograms computed on the device."""
