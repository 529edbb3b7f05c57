"""Entry point of the PyInstaller bundle (packaging/musicorg.spec): the ``musicorg`` command.

A frozen app has no Python interpreter to hand to child processes: ``sys.executable`` is the
bundle's own binary. musicorg starts one kind of child that way, the UMAP worker
(``sys.executable -m musicorg.organise.umap_worker IN OUT ...``, see
musicorg/organise/mapping.py), so that
command line is recognised here and run in-process instead of being parsed as ``musicorg``'s
own arguments. ``freeze_support`` (patched by PyInstaller to work on every platform) runs
multiprocessing's spawned children, such as the GUI's analysis process (gui/procstage.py).

On Linux the bootloader points ``LD_LIBRARY_PATH`` at the bundle's ``_internal`` folder, and
child processes inherit it: the preview player (mpv, ffplay) would then load the bundle's
copies of system libraries. The dynamic loader read the variable when this process started,
so the user's value (kept in ``LD_LIBRARY_PATH_ORIG``) is put back at once. The bundle's own
children (the UMAP worker) get the bundle's value from the bootloader again.
"""

from __future__ import annotations

import multiprocessing
import os
import sys


def restore_library_path() -> None:
    if not getattr(sys, "frozen", False):
        return
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is not None:
        os.environ["LD_LIBRARY_PATH"] = original
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)


def main() -> int:
    multiprocessing.freeze_support()
    restore_library_path()
    if sys.argv[1:3] == ["-m", "musicorg.organise.umap_worker"]:
        from musicorg.organise import umap_worker

        return umap_worker.main(sys.argv[3:])
    from musicorg.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
