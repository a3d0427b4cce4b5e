"""inpainting."""
