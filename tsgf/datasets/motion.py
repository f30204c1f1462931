"""A procedural, seeded "embedded motion" video dataset: the classes differ in how one object moves, and,
optionally, in how they look.

Each clip shows a textured background, `distractors` static shapes and one object, all drawn with random shape
(disc, square, triangle, cross, ellipse), random colours, size and position, so that by default appearance says
nothing about the class (the motion-only dataset). The object is two-coloured, split along its own axis, so that
even a rotating disc visibly turns. With `appearance.strength` > 0, each class also has an appearance family (object
shape, object colours, background palette) that its clips are pulled towards, with per-clip `variation`; the two
members of a time-reversed pair share one family, so within a pair only temporal order still separates them.
Classes (MOTION_CLASSES, canonical order):
  move_right, move_left, move_up, move_down   translation at `speed`
  rotate_cw, rotate_ccw                       rotation about the object's centre (clockwise as seen on screen)
  grow, shrink                                exponential scaling about the object's centre
  oscillate                                   sinusoidal back-and-forth along a random axis, >= 1 period in its segment
  static                                      the object stays put; frames differ only by noise
Like a real action, the motion fills one random contiguous segment of each clip (see `active_fraction`): the object
holds its start pose before it and its end pose after it. This is the premise of the temporal saliency filter this
dataset serves, which up-weights high-motion frames: here some frames really carry the class and others carry none.
The reverse member of each TIME_REVERSED_PAIRS pair is exactly the time-reversed clip of its forward member, so
no single frame, and no unordered set of frames, separates the pair: only temporal order does.

Knobs (`params`, the schema's `dataset.motion` section, which holds their defaults): seed; classes (label = position
in this list); frames; size (frames are size x size RGB); train_per_class, test_per_class; object_scale [min, max]
(object radius as a fraction of size, at mid-segment for grow/shrink); speed [min, max] (translation per frame as a
fraction of size); active_fraction [min, max] (the object moves during round(f * (frames - 1)) >= 1 consecutive
frame transitions, f uniform in [min, max], starting at a uniformly random valid transition, a distribution
symmetric under time reversal; [1, 1] moves throughout); noise_std (i.i.d. Gaussian pixel noise, pixels in [0, 1]);
distractors; camera_motion (global pan per frame as a fraction of size, in a uniformly random direction, plus per-
frame jitter of a quarter of that; 0 turns it off; it spans the whole clip); appearance {strength, variation} (see
`_appearance`).

Comparable motion: with v = speed * size pixels per frame and r the object's radius, each moving class is set to
sweep about the image area a translation does, 4 r v pixels per frame for a disc. Scaling: a disc's outline grown
by dr sweeps 2 pi r dr, so the radius grows exponentially at (2 / pi) v pixels per frame at mid-segment. Rotation:
the colour split line turned by w radians sweeps r^2 w, which suggests w = 4 v / r, but non-round outlines also
sweep area as they turn, so w = 2.2 v / r, the gain at which rotation's mean |frame difference| matches
translation's. Oscillation moves at a mean speed of v. Measured at the defaults but active_fraction [1, 1], without
noise (300 clips per class), the mean |frame difference| is 0.022 for translation, 0.023 rotation, 0.020 oscillate
and 0.014 scaling: scaled non-round shapes sweep less than a disc, and faster scaling would make small objects
outgrow the frame within 8 frames.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from tsgf.clipset import write_clipset
from tsgf.errors import ConfigError

MOTION_CLASSES: dict[str, str] = {
    "move_right": "translates rightwards",
    "move_left": "translates leftwards (time-reversed move_right)",
    "move_up": "translates upwards",
    "move_down": "translates downwards (time-reversed move_up)",
    "rotate_cw": "rotates clockwise about its centre",
    "rotate_ccw": "rotates counter-clockwise (time-reversed rotate_cw)",
    "grow": "scales up about its centre",
    "shrink": "scales down (time-reversed grow)",
    "oscillate": "moves back and forth along a random axis",
    "static": "stays still",
}
TIME_REVERSED_PAIRS: list[tuple[str, str]] = [
    ("move_right", "move_left"), ("move_up", "move_down"), ("rotate_cw", "rotate_ccw"), ("grow", "shrink"),
]

_REVERSE_OF = {reverse: forward for forward, reverse in TIME_REVERSED_PAIRS}
_PARTNER = {**_REVERSE_OF, **{forward: reverse for forward, reverse in TIME_REVERSED_PAIRS}}
_SPLIT_IDS = {"train": 0, "test": 1}
_MARGIN = 0.7  # the object's centre stays >= 0.7 radii inside the frame, so most of it is always visible

# Signed distance to each outline in units of the radius (negative inside), from local coordinates (u, v).
_SHAPES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "disc": lambda u, v: np.hypot(u, v) - 1.0,
    "square": lambda u, v: np.maximum(np.abs(u), np.abs(v)) - 0.85,
    "triangle": lambda u, v: np.maximum.reduce(
        [u * np.cos(a) + v * np.sin(a) for a in (np.pi / 2, np.pi * 7 / 6, np.pi * 11 / 6)]) - 0.55,
    "cross": lambda u, v: np.minimum(np.maximum(np.abs(u) - 1.0, np.abs(v) - 0.35),
                                     np.maximum(np.abs(u) - 0.35, np.abs(v) - 1.0)),
    # first-order distance (level set over its gradient's length), so the edge is one pixel soft all round
    "ellipse": lambda u, v: (np.hypot(u, v / 0.55) - 1) * np.hypot(u, v / 0.55) / (np.hypot(u, v / 0.55**2) + 1e-9),
}

_Motion = tuple[np.ndarray, np.ndarray, np.ndarray]  # centre offset (T, 2), angle (T,), radius (T,) in pixels
# (rng, motion times t, speed v in pixels per frame, radius r in pixels) -> the object's motion, where t counts
# frames from the middle of the active segment and is held constant outside it (see _motion_times)
_MotionFn = Callable[[np.random.Generator, np.ndarray, float, float], _Motion]


def _move(dx: float, dy: float) -> _MotionFn:
    return lambda rng, t, v, r: (np.outer(t, (dx, dy)) * v, 0 * t, np.full_like(t, r))


def _oscillate(rng: np.random.Generator, t: np.ndarray, v: float, r: float) -> _Motion:
    span = np.ptp(t)  # transitions in the active segment: at least one full period there; never a 1-frame alias
    period = rng.uniform(max(2.0, span / 2), max(2.0, span))
    axis, phase = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
    amplitude = v * period / 4  # a sinusoid's mean speed is 4 * amplitude / period
    along = amplitude * np.sin(2 * np.pi * t / period + phase)
    return np.outer(along, (np.cos(axis), np.sin(axis))), 0 * t, np.full_like(t, r)


# Only the forward member of each pair has a motion; its partner is rendered by reversing the clip.
_MOTIONS: dict[str, _MotionFn] = {
    "move_right": _move(1, 0),
    "move_up": _move(0, -1),  # image rows grow downwards
    "rotate_cw": lambda rng, t, v, r: (np.zeros((len(t), 2)), 2.2 * v / r * t, np.full_like(t, r)),  # see top
    "grow": lambda rng, t, v, r: (np.zeros((len(t), 2)), 0 * t, r * np.exp(2 / np.pi * v / r * t)),  # see top
    "oscillate": _oscillate,
    "static": lambda rng, t, v, r: (np.zeros((len(t), 2)), 0 * t, np.full_like(t, r)),
}


def _motion_times(rng: np.random.Generator, frames: int, fraction: list[float]) -> np.ndarray:
    """Each frame's time in the active segment, from its middle, held before and after it (see the top).

    Draws nothing where there is no choice, so [1, 1] gives the centred frame times: the clips made before this knob.
    """
    lo, hi = fraction
    steps = max(1, round((rng.uniform(lo, hi) if lo < hi else lo) * (frames - 1)))
    start = rng.integers(0, frames - steps) if steps < frames - 1 else 0
    return np.clip(np.arange(frames), start, start + steps) - (start + steps / 2)


def _colours(rng: np.random.Generator, n: int, avoid: list[np.ndarray]) -> list[np.ndarray]:
    """n random RGB colours each >= 0.25 (mean over channels) away from `avoid` and each other, so edges show."""
    chosen: list[np.ndarray] = []
    for _ in range(n):
        candidates = rng.uniform(0, 1, (32, 3))
        distance = np.abs(candidates[:, None] - np.reshape(avoid + chosen, (1, -1, 3))).mean(axis=-1)
        chosen.append(candidates[np.argmax(distance.min(axis=1, initial=1.0) >= 0.25)])  # first far enough
    return chosen


# appearance off; what an absent key means: the workflow drops the switched-off key from a set's params (its address)
_MOTION_ONLY = {"strength": 0.0, "variation": 0.0}
# (colours drawn at random, "object" or "background") -> the colours painted: identity on the motion-only dataset
_Tint = Callable[[list[np.ndarray], str], list[np.ndarray]]


def _family_look(seed: int, family: str) -> dict[str, Any]:
    """The appearance family of a class (a pair's forward member names its pair's): an object shape, two object
    colours and a two-colour background palette, fixed by (dataset seed, family name)."""
    rng = np.random.default_rng([seed, 2, zlib.crc32(family.encode())])
    background = _colours(rng, 2, [])
    return {"shape": str(rng.choice(list(_SHAPES))), "background": background,
            "object": _colours(rng, 2, background)}


def _appearance(params: dict[str, Any], family: str, rng: np.random.Generator) -> tuple[_Tint, str | None]:
    """How a clip of `family` is drawn: (its colour tint, the family's shape if this clip takes it, else None).

    `appearance.strength` s pulls each random colour to its family colour, (1 - s) * random + s * family, the
    family colour jittered per clip by Gaussian `variation` per channel, and gives the object the family's shape
    with probability s. At s = 0 nothing is drawn, so the clips are exactly the motion-only dataset's."""
    appearance = params.get("appearance") or _MOTION_ONLY
    strength, variation = appearance["strength"], appearance["variation"]
    if strength == 0:
        return (lambda colours, part: colours), None
    look = _family_look(params["seed"], family)

    def tint(colours: list[np.ndarray], part: str) -> list[np.ndarray]:
        typical = [np.clip(c + rng.normal(0, variation, 3), 0, 1) for c in look[part]]
        return [(1 - strength) * c + strength * t for c, t in zip(colours, typical)]

    return tint, look["shape"] if rng.uniform() < strength else None


def _background(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, size: int,
                tint: _Tint) -> tuple[np.ndarray, list[np.ndarray]]:
    """A random texture over world coordinates x (T, 1, W) and y (T, H, 1), so a camera pan moves it exactly.

    Smooth noise (six random low-frequency plane waves), random stripes (one faster wave) and a random linear
    gradient, blended between two random colours. Returns (T, H, W, 3) pixels and the two colours.
    """
    angles, phases = rng.uniform(0, 2 * np.pi, 7), rng.uniform(0, 2 * np.pi, 7)
    wavenumbers = 2 * np.pi * np.concatenate([rng.uniform(0.3, 1.5, 6), rng.uniform(2.0, 5.0, 1)]) / size
    weights = np.concatenate([np.full(6, 0.4), rng.uniform(0, 0.6, 1)])
    along_x = x[:, 0, None, :] * (wavenumbers * np.cos(angles))[:, None]  # (T, 7, W)
    along_y = y[:, :, 0, None] * wavenumbers * np.sin(angles) + phases  # (T, H, 7)
    # cos(a + b) = cos a cos b - sin a sin b turns the sum of waves into two small batched matrix products.
    field = (weights * np.cos(along_y)) @ np.cos(along_x) - (weights * np.sin(along_y)) @ np.sin(along_x)
    slope = rng.uniform(0, 2 * np.pi)
    field = field + rng.uniform(0, 1) * ((np.cos(slope) * x + np.sin(slope) * y) / size - 0.5)
    colours = tint(_colours(rng, 2, []), "background")
    blend = np.clip(0.5 + 0.5 * field, 0, 1)[..., None]
    return colours[0] + blend * (colours[1] - colours[0]), colours


def _paint(canvas: np.ndarray, x: np.ndarray, y: np.ndarray, shape: str, colours: list[np.ndarray],
           centre: np.ndarray, angle: np.ndarray, radius: np.ndarray) -> None:
    """Composite a two-coloured shape onto canvas (T, H, W, 3) in place, with one-pixel soft (anti-aliased) edges."""
    cx, cy, a, r = centre[:, 0, None, None], centre[:, 1, None, None], angle[:, None, None], radius[:, None, None]
    dx, dy = x - cx, y - cy  # rotating local axes by +angle turns the shape clockwise on screen (rows grow down)
    u, v = (np.cos(a) * dx + np.sin(a) * dy) / r, (np.cos(a) * dy - np.sin(a) * dx) / r
    alpha = np.clip(0.5 - _SHAPES[shape](u, v) * r, 0, 1)[..., None]
    half = np.clip(0.5 + v * r, 0, 1)[..., None]  # which side of the object's own axis: the two colours
    canvas += alpha * (colours[0] + half * (colours[1] - colours[0]) - canvas)


def render_clip(class_name: str, params: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """One clip of `class_name` as uint8 (T, 3, H, W), every random choice drawn from `rng`."""
    if class_name in _REVERSE_OF:
        return render_clip(_REVERSE_OF[class_name], params, rng)[::-1].copy()
    frames, size = params["frames"], params["size"]
    t = np.arange(frames) - (frames - 1) / 2  # centred time: the camera and scaling are symmetric about mid-clip
    # Camera first, so switching it on changes nothing else about a clip; a uniform direction keeps reversal blind.
    pan = params["camera_motion"] * size
    heading = rng.uniform(0, 2 * np.pi)
    camera = np.outer(t, (np.cos(heading), np.sin(heading))) * pan + rng.normal(0, 0.25 * pan, (frames, 2))
    pixel = np.arange(size) + 0.5
    x = pixel[None, None, :] + camera[:, 0, None, None]  # world coordinates seen by each column / row of each frame
    y = pixel[None, :, None] + camera[:, 1, None, None]
    # a pair's reverse member was redirected to its forward member above, so both share the forward's family
    tint, family_shape = _appearance(params, class_name, rng)
    canvas, background = _background(rng, x, y, size, tint)
    scale_lo, scale_hi = params["object_scale"]
    for _ in range(params["distractors"]):  # as varied as the object, so only motion tells them apart
        shape, colours, r = rng.choice(list(_SHAPES)), _colours(rng, 2, background), rng.uniform(scale_lo, scale_hi)
        _paint(canvas, x, y, shape, colours, np.tile(rng.uniform(0, size, 2), (frames, 1)),
               np.full(frames, rng.uniform(0, 2 * np.pi)), np.full(frames, r * size))
    shape, colours, r = rng.choice(list(_SHAPES)), _colours(rng, 2, background), rng.uniform(scale_lo, scale_hi) * size
    shape, colours = family_shape or shape, tint(colours, "object")
    v, angle0 = rng.uniform(*params["speed"]) * size, rng.uniform(0, 2 * np.pi)
    offset, angle, radius = _MOTIONS[class_name](rng, _motion_times(rng, frames, params["active_fraction"]), v, r)
    # Place the path so the centre stays >= _MARGIN radii inside the frame throughout (centred if it cannot).
    lo = np.max(_MARGIN * radius[:, None] - offset, axis=0)
    hi = np.min(size - _MARGIN * radius[:, None] - offset, axis=0)
    start = np.where(lo < hi, lo + rng.uniform(0, 1, 2) * (hi - lo), (lo + hi) / 2)
    _paint(canvas, x, y, shape, colours, start + offset, angle0 + angle, radius)
    canvas += rng.normal(0, params["noise_std"], canvas.shape)
    return np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8).transpose(0, 3, 1, 2).copy()


def partner_labels(classes: list[str], motion_only_classes: list[str]) -> np.ndarray:
    """Each label's time-reversed partner's label, -1 where it has none: the pairs of a clip set's
    motion-only classes (empty for real datasets, whose meta lists none)."""
    index = {name: label for label, name in enumerate(classes)}
    return np.array([index[_PARTNER[name]] if name in motion_only_classes else -1 for name in classes])


def _validate(params: dict[str, Any]) -> None:
    unknown = [name for name in params["classes"] if name not in MOTION_CLASSES]
    if unknown or not params["classes"] or len(set(params["classes"])) != len(params["classes"]):
        raise ConfigError(f"classes={params['classes']!r}: give distinct names from {list(MOTION_CLASSES)}")
    minimum = {"seed": 0, "frames": 2, "size": 16, "train_per_class": 1, "test_per_class": 1, "distractors": 0}
    for key, least in minimum.items():
        if not isinstance(params[key], (int, np.integer)) or params[key] < least:
            raise ConfigError(f"{key}={params[key]!r}: must be an integer >= {least}")
    if "oscillate" in params["classes"] and params["frames"] < 3:
        raise ConfigError(f"frames={params['frames']}: class 'oscillate' needs frames >= 3 for a full period")
    for key, most in (("object_scale", np.inf), ("speed", np.inf), ("active_fraction", 1)):
        value = params[key]
        if len(value) != 2 or not 0 < value[0] <= value[1] <= most:
            raise ConfigError(f"{key}={value!r}: must be [min, max] with 0 < min <= max <= {most}")
    for key in ("noise_std", "camera_motion"):
        if not params[key] >= 0:
            raise ConfigError(f"{key}={params[key]!r}: must be >= 0")
    appearance = params.get("appearance") or _MOTION_ONLY
    if not (0 <= appearance["strength"] <= 1 and appearance["variation"] >= 0):
        raise ConfigError(f"appearance={appearance!r}: strength must lie in [0, 1] and variation be >= 0")


def generate_motion_dataset(params: dict[str, Any], out_dir: str | Path) -> dict[str, Any]:
    """Render train then test clips of every class in `params["classes"]` and write them as a clip set."""
    _validate(params)
    classes = list(params["classes"])
    counts = {"train": params["train_per_class"], "test": params["test_per_class"]}
    total = len(classes) * sum(counts.values())
    clips = np.empty((total, params["frames"], 3, params["size"], params["size"]), dtype=np.uint8)
    rows = []
    for split, count in counts.items():
        for label, name in enumerate(classes):
            for number in range(count):
                # Seeded by the class name, not its label, so a clip survives adding or reordering classes.
                seed = np.random.SeedSequence([params["seed"], _SPLIT_IDS[split], zlib.crc32(name.encode()), number])
                clips[len(rows)] = render_clip(name, params, np.random.default_rng(seed))
                rows.append({"index": len(rows), "clip_id": f"{split}/{name}/{number:04d}", "label": label,
                             "class_name": name, "split": split, "source": "generated", "status": "ok",
                             "reason": ""})
    # Exact per-channel statistics from 256-bin histograms: no float copy of the whole train set.
    train = clips[: len(classes) * counts["train"]]
    levels = np.arange(256) / 255
    hist = np.stack([np.bincount(train[:, :, c].ravel(), minlength=256) for c in range(3)]).astype(np.float64)
    mean = hist @ levels / hist.sum(axis=1)
    std = np.sqrt((hist * (levels - mean[:, None]) ** 2).sum(axis=1) / hist.sum(axis=1))
    recipe = {"generator": "tsgf.datasets.motion", "version": 1, "params": params}
    motion_only = [name for name in classes if _PARTNER.get(name) in classes]
    return write_clipset(out_dir, clips, pd.DataFrame(rows), classes, list(mean), list(std), recipe,
                         motion_only_classes=motion_only)
