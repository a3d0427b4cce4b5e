"""Make the bundled example images from scikit-image's public-domain samples.

    python examples/make_examples.py

astronaut.png       256x256 crop of skimage.data.astronaut() (NASA, public domain), the HR truth
astronaut_lr_x4.png 64x64, made from it with restore's MATLAB-style bicubic (the SR degradation)
astronaut_bicubic_x4.png  the LR image upscaled x4 by bicubic interpolation (the baseline)
astronaut_face.png  64x64: her face as restore's face detector finds it, cut the way CelebA frames faces
                    (the face prior's input; restore.inpainting.faces.prior_crop)
astronaut_face_mask.png   64x64 mask, the centre 32x32 hole of the face-inpainting benchmark (white = hole)
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
    from restore.data.degradation import resize
    from restore.inpainting.faces import detect_faces, prior_crop

    photo = torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float() / 255
    square = prior_crop(detect_faces(data.astronaut())[0])
    top, left, size = square.top, square.left, square.size
    face = (resize(photo[..., top:top + size, left:left + size], 64).clamp(0, 1) * 255).round() / 255
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 16:48, 16:48] = 1
    for name, img in [("astronaut.png", hr), ("astronaut_lr_x4.png", lr), ("astronaut_bicubic_x4.png", bicubic),
                      ("astronaut_face.png", face), ("astronaut_face_mask.png", mask)]:
        write_image(HERE / name, img, overwrite=True)
        print(HERE / name, tuple(img.shape))


if __name__ == "__main__":
    main()
