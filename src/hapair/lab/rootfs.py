"""Root filesystems of Debian's own packages, built once with debootstrap:
a disk image with Debian's kernel for the lab's virtual machines, or a
folder for containers of another Debian release than the host's.

Each is cached under CACHE_ROOT by a key of what goes in it (the suite, the
mirror, the package list, image or folder): a changed list builds a new one,
an unchanged one is reused. A VM boots a copy of the image (lab/vm.py); a
container an overlay of the folder (lab/container.py)."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hapair.lab.sh import LabError, run

CACHE_ROOT = Path("/var/cache/hapair/rootfs")
SUITE = "bookworm"
#: The host's own mirror: one of the package registries the machine may reach.
MIRROR = "http://deb.debian.org/debian"
#: What a machine with a real kernel needs besides a node's packages: a boot,
#: SSH for apply, the bonding and RAID tools, and what the agent calls.
BASE_PACKAGES = (
    "systemd", "systemd-sysv", "udev", "kmod", "dbus", "iproute2", "procps", "psmisc",
    "openssh-server", "linux-image-amd64", "initramfs-tools", "e2fsprogs", "mdadm",
    "ifenslave", "ifupdown", "netplan.io", "iputils-ping", "ca-certificates", "python3",
)
#: A container's: no kernel, no boot loader's tools, no disk tools.
CONTAINER_BASE = (
    "systemd", "systemd-sysv", "dbus", "iproute2", "procps", "psmisc", "openssh-server",
    "netplan.io", "iputils-ping", "ca-certificates", "python3",
)
IMAGE_SIZE = "3G"
#: Bumped when the way the image is made changes (not only what goes in).
RECIPE = 1

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Recipe:
    suite: str
    mirror: str
    packages: tuple[str, ...]
    image: bool = True  # a VM's disk image; False: a container's folder

    @property
    def key(self) -> str:
        text = "\n".join([str(RECIPE), self.suite, self.mirror, *self.packages,
                          *([] if self.image else ["folder"])])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def recipe(extra: tuple[str, ...] = (), suite: str = SUITE, image: bool = True) -> Recipe:
    """What a lab node's root holds: the base and every package apply installs
    on a node (a lab machine has no route to a mirror, so apply finds them there)."""
    # pyinfra's (deploy/) is the control host's: a node's hapair has none, and
    # its CLI imports the lab's modules.
    from hapair.deploy.steps import PACKAGES as NODE_PACKAGES

    base = BASE_PACKAGES if image else CONTAINER_BASE
    return Recipe(suite, MIRROR, tuple(sorted({*base, *NODE_PACKAGES, *extra})), image)


@dataclass(frozen=True)
class Image:
    folder: Path

    @property
    def disk(self) -> Path:
        return self.folder / "root.img"

    @property
    def kernel(self) -> Path:
        return self.folder / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.folder / "initrd.img"

    @property
    def tree(self) -> Path:
        """A container's root (a folder recipe's)."""
        return self.folder / "tree"

    def ready(self) -> bool:
        if (self.folder / "folder").exists():
            return self.tree.is_dir()
        return all(p.exists() for p in (self.disk, self.kernel, self.initrd))


def image_of(r: Recipe, root: Path = CACHE_ROOT) -> Image:
    return Image(root / r.key)


def ensure(r: Recipe, progress: Progress, root: Path = CACHE_ROOT) -> Image:
    """The cached image for this recipe, built first if there is none. Two labs
    asking at once build it once (a lock); a failed build leaves nothing."""
    image = image_of(r, root)
    if image.ready():
        return image
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image.ready():
            return image
        _build(r, image, progress)
    return image


def _build(r: Recipe, image: Image, progress: Progress) -> None:
    work = image.folder.with_name(image.folder.name + ".building")
    shutil.rmtree(work, ignore_errors=True)
    tree = work / "tree"
    tree.mkdir(parents=True)
    started = time.monotonic()
    progress(f"root filesystem: debootstrap {r.suite} with {len(r.packages)} packages "
             "(first time only, a few minutes)")
    try:
        run(["debootstrap", "--variant=minbase", f"--include={','.join(r.packages)}",
             r.suite, str(tree), r.mirror], timeout=1800)
        _settle(tree, r.image)
        if r.image:
            _disk_image(tree, work)
        else:
            (work / "folder").touch()
        shutil.rmtree(image.folder, ignore_errors=True)
        work.rename(image.folder)
    except BaseException:
        _unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)
        raise
    progress(f"root filesystem: built in {time.monotonic() - started:.0f}s ({image.folder})")


def _disk_image(tree: Path, work: Path) -> None:
    """A VM's: its kernel and initrd beside an ext4 image made of the tree."""
    kernels = sorted((tree / "boot").glob("vmlinuz-*"))
    initrds = sorted((tree / "boot").glob("initrd.img-*"))
    if not kernels or not initrds:
        raise LabError(f"the root filesystem in {tree} has no kernel or initrd")
    shutil.copy(kernels[-1], work / "vmlinuz")
    shutil.copy(initrds[-1], work / "initrd.img")
    run(["mkfs.ext4", "-q", "-L", "hapair-root", "-d", str(tree), str(work / "root.img"),
         IMAGE_SIZE], timeout=600)
    shutil.rmtree(tree)


def _settle(tree: Path, image: bool) -> None:
    """What every machine of the root shares: an empty machine-id (each makes
    its own) and the root's mount. (The services its packages enable are left
    to apply by identity.prepare, for every machine, this root's too.)"""
    (tree / "etc/machine-id").write_text("")  # each machine makes its own at first boot
    fstab = tree / "etc/fstab"
    # A container's root is nspawn's to mount.
    fstab.write_text("LABEL=hapair-root / ext4 defaults,errors=remount-ro 0 1\n"
                     if image else "")


def _unmount_under(folder: Path) -> None:
    """What an interrupted debootstrap left mounted in its tree (/proc, /sys)."""
    prefix = str(folder) + "/"
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        found = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for mount in sorted(found, key=len, reverse=True):
        run(["umount", "-l", mount], check=False)
