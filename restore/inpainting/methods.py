"""The names of the inpainting methods (no heavy imports: the command line builds its help from them)."""

#: latent search over a generative prior (Yeh et al. 2017): a DCGAN, a VAE decoder, or the DCGAN
#: started from the VAE encoder's code.
SEMANTIC_METHODS = ("gan", "vae", "gan-vae-init")
#: classical methods: OpenCV Telea and Navier-Stokes, scikit-image biharmonic, and OpenCV contrib's
#: ``xphoto.inpaint`` frequency-selective reconstruction (fast and best). (Its shift-map is left out: it
#: tears small images and its output changed with the process's state; see docs/inpainting.md.)
CLASSICAL_METHODS = ("telea", "ns", "biharmonic", "fsr-fast", "fsr-best")
METHODS = SEMANTIC_METHODS + CLASSICAL_METHODS
#: what ``--method`` accepts: ``auto`` (a prior only for images in its domain, else the best classical
#: method; :class:`restore.pipelines.inpainting.AutoInpainter`) and every method above.
METHOD_CHOICES = ("auto",) + METHODS
