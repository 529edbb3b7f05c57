"""The model commands (retrain; models list, use, revert, delete): versions of the model, made
from this library and switched between the checked way (``app.pipeline.switch_model``)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Final

from musicorg import settings as settings_mod
from musicorg.cli.common import (
    CommandError,
    Handler,
    Stderr,
    Subparsers,
    add_command,
    common_options,
    device_option,
    json_flag,
    model_errors,
    print_json,
)
from musicorg.jobs import Cancelled
from musicorg.model import registry as model_registry
from musicorg.store.db import Catalogue

if TYPE_CHECKING:
    from musicorg.app.retrain import RetrainResult

HELP: Final = {
    "retrain": "retrain the model on this library",
    "models": "list, use, revert or delete model versions",
}
#: The actions of ``musicorg models``, in the order ``musicorg models --help`` lists them.
ACTIONS: Final = {
    "list": "the bundled model and the retrained versions",
    "use": "make a version the active model",
    "revert": "go back to the bundled model",
    "delete": "delete a retrained version: its files and its data in this catalogue",
}


def register(sub: Subparsers) -> None:
    p = add_command(sub, HELP, "retrain", cmd_retrain, own_lock=True)
    p.add_argument("--epochs", type=int, help="epochs (default: 10, or 40 with --from-scratch)")
    p.add_argument(
        "--from-scratch",
        action="store_true",
        help="start from new weights (default: fine-tune the active model)",
    )
    device_option(p, "where training runs")
    p.add_argument(
        "--threads", type=int, default=0, help="CPU threads (default: half the cores, at most 4)"
    )
    json_flag(p, "print the result as JSON")

    p = add_command(sub, HELP, "models", cmd_models)
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    for action, text in ACTIONS.items():
        q = msub.add_parser(action, help=text, description=text)
        common_options(q, top=False)
        if action == "list":
            json_flag(q)
        elif action != "delete":
            device_option(q)
        if action in ("use", "delete"):
            q.add_argument("version", metavar="VERSION")


def cmd_retrain(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: retraining loads torch and the analysis stage; start-up stays light
    from musicorg.app import retrain

    def epoch_line(p: retrain.RetrainProgress) -> None:
        if not args.quiet:
            print(p.line(), file=sys.stderr, flush=True)

    shown: set[str] = set()

    def stage(text: str) -> None:
        if not args.quiet:
            print(text, file=sys.stderr, flush=True)
            shown.add(text)

    opts = retrain.RetrainOptions(
        epochs=args.epochs,
        from_scratch=args.from_scratch,
        device=args.device or settings_mod.load().device,
        threads=args.threads,
    )
    try:
        with model_errors("retrain", (retrain.RetrainError, ValueError)):
            result = retrain.retrain(cat, opts, progress=epoch_line, stage=stage)
    except (Cancelled, KeyboardInterrupt):
        print(
            "Retraining stopped; the active model is unchanged. Run `musicorg retrain` again "
            "with the same options to resume from the last finished epoch.",
            file=sys.stderr,
        )
        return 130
    for w in result.warnings:
        if w not in shown:  # a checkpoint set aside is said once, when it happens
            print(f"warning: {w}", file=sys.stderr)
    if args.json:
        print_json(result.as_dict())
    else:
        _print_retrained(result)
    return 0


def _print_retrained(result: RetrainResult) -> None:
    # lazy: the report's format loads torch and scikit-learn; start-up stays light
    from musicorg.model.libreport import format_report

    resumed = f", resumed after epoch {result.resumed_from}" if result.resumed_from else ""
    print(
        f"Trained {result.version} ({'from scratch' if result.from_scratch else 'fine-tuned'} "
        f"from {result.base_version}, {result.epochs} epochs on {result.device}{resumed}, "
        f"{result.seconds_per_epoch:.1f} s per epoch; lyrics pipeline "
        f"{'refitted on ' + str(result.n_lyrics) + ' lyrics' if result.text_refit else 'kept'})."
    )
    print()
    print(format_report(result.report))
    print()
    print(
        f"The active model is unchanged. To use the new one: musicorg models use "
        f"{result.version}  (musicorg models revert goes back to the bundled model)"
    )


def cmd_models(args: argparse.Namespace, cat: Catalogue) -> int:
    handlers: dict[str, Handler] = {
        "list": _list_models,
        "use": _switch_model,
        "revert": _switch_model,
        "delete": _delete_model,
    }
    return handlers[args.models_command](args, cat)


def _list_models(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: app.models loads the analysis stage (and verifying, torch); start-up stays light
    from musicorg.app import models as modelstore

    models = modelstore.list_models(cat, verify=True)
    if args.json:
        print_json([m.as_dict() for m in models])
        return 0
    for m in models:
        mark = "*" if m.active else " "
        print(f"{mark} {m.version:24} {m.describe()}")
        print(
            f"  {'':24} {m.embedded} tracks embedded, {m.auto_playlists} automatic playlists"
            + (f"; REFUSED: {m.problem}" if m.problem else "")
        )
    return 0


def _switch_model(args: argparse.Namespace, cat: Catalogue) -> int:
    """``models use VERSION`` or ``models revert``: the checked switch, which leaves the
    active model in place when the new one is refused."""
    # lazy: the pipeline loads every stage, the model bundle torch; start-up stays light
    from musicorg.app import models as modelstore
    from musicorg.app import pipeline
    from musicorg.model.bundle import ModelIntegrityError

    def unchanged(exc: Exception) -> str:
        return f"{exc}; the active model is unchanged ({modelstore.active_version(cat)})."

    device = args.device or settings_mod.load().device
    progress = Stderr(args.quiet)
    refused = (ModelIntegrityError, model_registry.ModelVersionError)
    with model_errors("models", refused, progress, explain=unchanged):
        if args.models_command == "revert":
            report = modelstore.revert(cat, device=device, progress=progress)
        else:
            report = pipeline.switch_model(cat, args.version, device=device, progress=progress)
    print(report.summary())
    if report.note:
        print(f"note: {report.note}")
    return 0


def _delete_model(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: app.models loads the analysis stage; start-up stays light
    from musicorg.app import models as modelstore

    version = args.version
    if version != model_registry.bundled_version() and version == modelstore.active_version(cat):
        raise CommandError(
            "models delete",
            f"{version} is the active model of this catalogue; switch "
            "first (musicorg models revert, or musicorg models use VERSION).",
        )
    try:
        model_registry.delete_version(version)
    except model_registry.ModelVersionError as exc:
        raise CommandError("models delete", exc) from exc
    print(f"Deleted model {version}.")
    stale = modelstore.forget_stale_versions(cat)
    if stale:
        print(stale.summary())
    return 0
