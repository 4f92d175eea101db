"""Audio datasets: mono waveforms at one sample rate."""
