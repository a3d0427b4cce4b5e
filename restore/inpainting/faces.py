"""Is there a face around the hole? Offline face detection that picks the face prior for ``--method auto``.

The detector is OpenCV 4's frontal-face Haar cascade (``haarcascade_frontalface_default.xml``, inside
the ``opencv-contrib-python-headless<5`` wheel: nothing to download), with the ``alt2`` cascade as a second chance
where it finds nothing, chosen by measurement (``benchmarks/face_detectors.py``): together they accept
96.9% of the 1,000 held-out CelebA faces whole and 83.0% with a centre hole (the default cascade alone
95.1% / 80.4%), and none of scikit-image's 19 non-face sample photos. dlib's HOG accepts 96.7% whole but
only 39% once a centre hole is filled, scikit-image's LBP cascade 88% and takes the cat.

Detection sees what ``auto`` may see: the image with its hole pre-filled by Telea.

Example:
    >>> import numpy as np
    >>> from restore.inpainting.faces import detect_faces
    >>> detect_faces(np.zeros((64, 64, 3), np.uint8))   # a blank image has no face
    []
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .crop import CropBox

CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml")  # the second: a second chance
MIN_NEIGHBOURS = 5
#: Side of a CelebA 64x64 training crop over the side of the cascade's box on the same face, and the
#: crop centre's offset below the box centre (in box sides): medians over the held-out faces
#: (``python benchmarks/face_detectors.py --framing``: 0.970 and 0.071 over the 947 faces with one
#: detection), so a detected face is cut the way the prior saw faces.
CROP_PER_BOX = 0.97
CROP_OFFSET = 0.07

_cascades: list | None = None


def prepare_for_detection(image: np.ndarray) -> tuple[np.ndarray, float, int]:
    """uint8 RGB ``(H, W, 3)`` -> ``(image for the cascade, scale, margin)``.

    Small images (short side < 192) are enlarged so the face spans ~190 px and get a 20% replicated edge
    margin (tight crops such as CelebA's leave the cascade no context otherwise); big images are reduced
    to a 1024 px long side. A pixel ``(y, x)`` of the result is ``((y - margin) / scale, (x - margin) / scale)``
    in the input.
    """
    import cv2

    h, w = image.shape[:2]
    scale = max(1.0, 192 / (min(h, w) * 1.4)) if min(h, w) < 192 else min(1.0, 1024 / max(h, w))
    if scale != 1.0:
        image = cv2.resize(image, (round(w * scale), round(h * scale)),
                           interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    margin = 0
    if min(h, w) < 192:
        margin = round(0.2 * min(image.shape[:2]))
        image = cv2.copyMakeBorder(image, margin, margin, margin, margin, cv2.BORDER_REPLICATE)
    return image, scale, margin


def cascades() -> list:
    """The OpenCV cascades of :data:`CASCADES`, loaded once; a one-line error when this OpenCV has no
    cascade files (5.x)."""
    global _cascades
    if _cascades is None:
        import cv2

        from ..errors import RestoreError

        loaded = []
        for name in CASCADES:
            path = Path(cv2.data.haarcascades) / name if hasattr(cv2, "data") else Path(name)
            classifier = cv2.CascadeClassifier(str(path))
            if classifier.empty():
                raise RestoreError(f"OpenCV {cv2.__version__} has no {name} (its 5.x wheels ship no cascades): "
                                   "install opencv-contrib-python-headless<5, or choose --method")
            loaded.append(classifier)
        _cascades = loaded
    return _cascades


def detect_faces(image: np.ndarray, min_neighbours: int = MIN_NEIGHBOURS) -> list[CropBox]:
    """Faces in a uint8 RGB ``(H, W, 3)`` image, largest first, in the image's pixel coordinates."""
    import cv2

    prepared, scale, margin = prepare_for_detection(np.ascontiguousarray(image))
    gray = cv2.equalizeHist(cv2.cvtColor(prepared, cv2.COLOR_RGB2GRAY))
    side = min(gray.shape)
    found = ()
    for classifier in cascades():  # the next cascade only where the previous one found nothing
        found = classifier.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=min_neighbours,
                                            minSize=(side // 5, side // 5))
        if len(found):
            break
    boxes = [CropBox(top=round((y - margin) / scale), left=round((x - margin) / scale), size=round(s / scale))
             for x, y, s, _ in (tuple(int(v) for v in f) for f in found)]
    return sorted(boxes, key=lambda b: -b.size)


def prior_crop(face: CropBox) -> CropBox:
    """The square to give a face prior for ``face``: CelebA's framing (may reach past the image's edges)."""
    size = max(1, round(face.size * CROP_PER_BOX))
    cy = face.top + face.size / 2 + CROP_OFFSET * face.size
    cx = face.left + face.size / 2
    return CropBox(top=round(cy - size / 2), left=round(cx - size / 2), size=size)
