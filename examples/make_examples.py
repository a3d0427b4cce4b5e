"""Make the bundled example images from scikit-image's public-domain samples.

    python examples/make_examples.py

astronaut.png       256x256 crop of skimage.data.astronaut() (NASA, public domain), the HR truth
astronaut_lr_x4.png 64x64, made from it with restore's MATLAB-style bicubic (the SR degradation)
astronaut_bicubic_x4.png  the LR image upscaled x4 by bicubic interpolation (the baseline)
"""

from pathlib import Path

import numpy as np
import torch
from skimage import data

from restore.data.degradation import imresize
from restore.io import write_image

HERE = Path(__file__).resolve().parent


def main() -> None:
    hr = torch.from_numpy(np.ascontiguousarray(data.astronaut()[0:384, 64:448])).permute(2, 0, 1)[None].float() / 255
    hr = imresize(hr, size=(256, 256)).clamp(0, 1)
    hr = (hr * 255).round() / 255
    lr = (imresize(hr, scale=0.25).clamp(0, 1) * 255).round() / 255
    bicubic = (imresize(lr, scale=4).clamp(0, 1) * 255).round() / 255
    for name, img in [("astronaut.png", hr), ("astronaut_lr_x4.png", lr), ("astronaut_bicubic_x4.png", bicubic)]:
        write_image(HERE / name, img, overwrite=True)
        print(HERE / name, tuple(img.shape))


if __name__ == "__main__":
    main()
