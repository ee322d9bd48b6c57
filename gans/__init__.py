"""GAN models behind one small interface, registered by name (DCGAN, pix2pix, CycleGAN land here)."""
