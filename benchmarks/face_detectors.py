"""Which offline face detector decides "is this a face?" for ``restore inpaint --method auto``.

Each candidate runs in its own process (OpenCV 4 and OpenCV 5 cannot share one), on the same inputs:

- the 1,000 held-out CelebA faces (64x64, ``18000.jpg``-``18999.jpg``), whole, and with the centre 32x32
  hole the inpainting benchmark uses, pre-filled by Telea (what ``auto`` can see without peeking);
- scikit-image's bundled non-face photos (coffee, chelsea, rocket, brick, ...): none may be accepted.

Every image goes through the same preparation (:func:`restore.inpainting.faces.prepare_for_detection`);
candidates that are not installed are tried from another ``PYTHONPATH``.

``--framing`` measures, with the shipped detector, how a CelebA training crop frames the detected box
(the crop's side over the box's side, and the crop centre's offset from the box centre): the constants
``CROP_PER_BOX`` and ``CROP_OFFSET`` of :mod:`restore.inpainting.faces`.

Usage:
    python benchmarks/face_detectors.py --detector skimage-lbp                       # no extra package
    PYTHONPATH=/tmp/cv4 python benchmarks/face_detectors.py --detector opencv4-haar  # opencv-python-headless<5
    PYTHONPATH=/tmp/dlib python benchmarks/face_detectors.py --detector dlib-hog     # dlib-bin
    PYTHONPATH=/tmp/mp python benchmarks/face_detectors.py --detector mediapipe      # mediapipe==0.10.14 --no-deps
    python benchmarks/face_detectors.py --table                                      # the table of all
    python benchmarks/face_detectors.py --framing                                    # crop framing

Writes ``benchmarks/results/face_detectors.json`` (one entry per detector, merged).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "face_detectors.json"
FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces64" / "celeba64_train.tar.gz"
NON_FACES = ("coffee", "chelsea", "rocket", "brick", "grass", "gravel", "horse", "hubble_deep_field",
             "immunohistochemistry", "moon", "page", "text", "coins", "clock", "logo", "retina", "colorwheel",
             "stereo_motorcycle", "cell")
PEOPLE = ("astronaut", "camera")  # photos with a person: reported, not scored


def prepare(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The shipped preparation (enlarge tight crops, add an edge margin): the same for every candidate."""
    from restore.inpainting.faces import prepare_for_detection

    prepared, scale, _ = prepare_for_detection(image)
    return prepared, scale


def make_detector(name: str):
    """A function uint8 RGB (H, W, 3) -> number of faces found, for the candidate ``name``.

    ``A+B`` is the union of candidates: B runs only where A finds nothing (a second chance)."""
    if "+" in name:
        first, second = (make_detector(n) for n in name.split("+", 1))
        return lambda rgb: first(rgb) or second(rgb)
    if name == "skimage-lbp":
        from skimage import data
        from skimage.feature import Cascade

        cascade = Cascade(data.lbp_frontal_face_cascade_filename())

        def detect(rgb):
            gray = rgb.mean(axis=2).astype(np.float32) / 255
            s = min(gray.shape)
            return len(cascade.detect_multi_scale(gray, scale_factor=1.2, step_ratio=1,
                                                  min_size=(s // 5, s // 5), max_size=(s, s), min_neighbor_number=4))
        return detect
    if name.startswith("opencv4-haar"):  # opencv4-haar[-alt2][:NEIGHBOURS]
        import cv2

        name, _, neighbours = name.partition(":")
        neighbours = int(neighbours or 5)
        file = {"opencv4-haar": "haarcascade_frontalface_default.xml",
                "opencv4-haar-alt2": "haarcascade_frontalface_alt2.xml"}[name]
        cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / file))
        if cascade.empty():
            raise SystemExit(f"{name}: no cascade file in this OpenCV ({cv2.__version__})")

        def detect(rgb):
            gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
            s = min(gray.shape)
            return len(cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=neighbours, minSize=(s // 5, s // 5)))
        return detect
    if name == "dlib-hog":
        import dlib

        hog = dlib.get_frontal_face_detector()
        return lambda rgb: len(hog(np.ascontiguousarray(rgb), 0))
    if name.startswith("mediapipe"):  # mediapipe[-full][:CONFIDENCE]; BlazeFace, bundled in mediapipe<=0.10.14
        import mediapipe as mp

        name, _, confidence = name.partition(":")
        blazeface = mp.solutions.face_detection.FaceDetection(model_selection=int(name == "mediapipe-full"),
                                                               min_detection_confidence=float(confidence or 0.5))

        def detect(rgb):
            found = blazeface.process(np.ascontiguousarray(rgb)).detections
            return len(found or ())
        return detect
    raise SystemExit(f"unknown detector {name!r}")


def heldout_faces(limit: int | None) -> np.ndarray:
    """The held-out faces as uint8 (N, 64, 64, 3)."""
    from restore.data.generative import load_generative_data

    faces = load_generative_data(str(FACES), resolution=64, channels=3, split="heldout", holdout=1000, limit=limit)
    return faces.images.permute(0, 2, 3, 1).numpy()


def centre_hole_telea(face: np.ndarray) -> np.ndarray:
    """The centre hole of half the side (32x32 on a 64x64 face), pre-filled by Telea."""
    import cv2

    h, w = face.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4: h // 4 + h // 2, w // 4: w // 4 + w // 2] = 255
    return cv2.inpaint(np.ascontiguousarray(face), mask, 3, cv2.INPAINT_TELEA)


@functools.cache
def _face_vae():
    from restore.pipelines.priors import load_prior

    return load_prior("faces64-vae", "vae")[0].eval()


def centre_hole_vae(image: np.ndarray) -> np.ndarray:
    """The centre hole pre-filled by Telea, then replaced by faces64-vae's reconstruction of the region around
    it (the hole plus half its size of context, resized to 64x64): a face prior's guess at what is missing."""
    import torch

    from restore.data.degradation import resize

    vae = _face_vae()
    h, w = image.shape[:2]
    filled = centre_hole_telea(image)
    top, left, rows, cols = h // 4, w // 4, h // 2, w // 2  # the hole of centre_hole_telea
    y0, x0 = max(0, top - rows // 2), max(0, left - cols // 2)
    y1, x1 = min(h, top + rows + rows // 2), min(w, left + cols + cols // 2)
    crop = torch.from_numpy(filled[y0:y1, x0:x1]).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        mu, _ = vae.encode(resize(crop, 64, "bilinear"))
        guess = resize(vae.decode(mu), (y1 - y0, x1 - x0), "bicubic")
    guess = (guess[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    out = filled.copy()
    out[top:top + rows, left:left + cols] = guess[top - y0:top - y0 + rows, left - x0:left - x0 + cols]
    return out


def non_face_photos() -> dict[str, np.ndarray]:
    from skimage import data
    from skimage.color import gray2rgb, rgba2rgb
    from skimage.util import img_as_ubyte

    photos = {}
    for name in NON_FACES + PEOPLE:
        image = getattr(data, name)()
        image = image[0] if isinstance(image, tuple) else image
        image = img_as_ubyte(image)
        image = gray2rgb(image) if image.ndim == 2 else image
        photos[name] = img_as_ubyte(rgba2rgb(image)) if image.shape[2] == 4 else image
    return photos


def measure(name: str, limit: int | None, prefill: str = "telea") -> dict:
    detect = make_detector(name)
    faces = heldout_faces(limit)
    started = time.perf_counter()
    whole = [detect(prepare(f)[0]) > 0 for f in faces]
    seconds = (time.perf_counter() - started) / len(faces)
    hole = {"telea": centre_hole_telea, "vae": centre_hole_vae}[prefill]
    holed = [detect(prepare(hole(f))[0]) > 0 for f in faces]
    photos = {k: int(detect(prepare(v)[0])) for k, v in non_face_photos().items()}
    holed_photos = {k: int(detect(prepare(hole(v))[0])) for k, v in non_face_photos().items()}
    return {"detector": name + ("" if prefill == "telea" else f" (hole: {prefill})"), "faces": len(faces),
            "accepted_whole": round(float(np.mean(whole)), 4),
            "accepted_centre_hole_telea": round(float(np.mean(holed)), 4),
            "ms_per_face": round(seconds * 1000, 2),
            "false_accepts": sorted(k for k in NON_FACES if photos[k]),
            "detections_on_non_faces": {k: photos[k] for k in NON_FACES},
            "detections_on_people": {k: photos[k] for k in PEOPLE},
            "false_accepts_centre_hole_telea": sorted(k for k in NON_FACES if holed_photos[k])}


def framing(limit: int | None) -> dict:
    """Medians over the held-out faces with exactly one detection (shipped detector, whole faces)."""
    from restore.inpainting.faces import detect_faces

    faces = heldout_faces(limit)
    side = faces.shape[1]
    ratios, offsets_y, offsets_x = [], [], []
    for face in faces:
        boxes = detect_faces(face)
        if len(boxes) != 1:
            continue
        b = boxes[0]
        ratios.append(side / b.size)
        offsets_y.append((side / 2 - (b.top + b.size / 2)) / b.size)
        offsets_x.append((side / 2 - (b.left + b.size / 2)) / b.size)
    q = lambda v: [round(float(x), 4) for x in np.percentile(v, [10, 50, 90])]
    return {"faces": len(faces), "single_detections": len(ratios),
            "crop_per_box_p10_p50_p90": q(ratios), "offset_y_p10_p50_p90": q(offsets_y),
            "offset_x_p10_p50_p90": q(offsets_x)}


def table(results: dict) -> str:
    rows = ["| detector | faces accepted (whole) | faces accepted (centre hole, Telea) | non-face photos accepted "
            "| the same with a centre hole | ms/face |", "|---|---|---|---|---|---|"]
    for r in (r for k, r in results.items() if k != "framing"):
        fa = ", ".join(r["false_accepts"]) or "none"
        holed = r.get("false_accepts_centre_hole_telea")
        fh = "not measured" if holed is None else f"{len(holed)}/{len(NON_FACES)} ({', '.join(holed) or 'none'})"
        rows.append(f"| {r['detector']} | {100 * r['accepted_whole']:.1f}% | {100 * r['accepted_centre_hole_telea']:.1f}% | "
                    f"{len(r['false_accepts'])}/{len(NON_FACES)} ({fa}) | {fh} | {r['ms_per_face']} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", help="skimage-lbp, opencv4-haar, opencv4-haar-alt2, dlib-hog, mediapipe, mediapipe-full "
                                       "(mediapipe[-full]:C sets the minimum confidence, default 0.5); "
                                       "opencv4-haar:N sets minNeighbors (default 5); A+B: B where A finds none")
    ap.add_argument("--limit", type=int, help="first N held-out faces only")
    ap.add_argument("--prefill", choices=("telea", "vae"), default="telea",
                    help="what fills the centre hole before detection: Telea, or faces64-vae's reconstruction "
                         "of the Telea-filled square around it")
    ap.add_argument("--table", action="store_true", help="print the table of all measured detectors")
    ap.add_argument("--framing", action="store_true", help="measure the crop framing of the shipped detector")
    args = ap.parse_args(argv)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if args.framing:
        frame = framing(args.limit)
        frame["command"] = " ".join(["python", "benchmarks/face_detectors.py", *sys.argv[1:]])
        results["framing"] = frame
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        print(json.dumps(frame, indent=1))
        return
    if args.detector:
        result = measure(args.detector, args.limit, args.prefill)
        result["command"] = " ".join(["python", "benchmarks/face_detectors.py", *sys.argv[1:]])
        results[result["detector"]] = result
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        print(json.dumps(result, indent=1))
    print(table(results))


if __name__ == "__main__":
    from restore.errors import run_script

    run_script(main)
