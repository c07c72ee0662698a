"""``kiosk models ...``: list, pull, import, export, verify, remove and install the embedded defaults.

Each command builds the model store from the environment once, at its start, and passes it on.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

from kiosk.cli.output import print_json
from kiosk.errors import BadInput, ProvisioningFailed
from kiosk.store import models
from kiosk.store.environment import from_environment


def models_list(args) -> int:
    rows = [{"id": row.id, "kind": row.kind, "languages": list(row.languages), "size_mb": row.size_mb,
             "license": row.license, "license_warning": row.license_warning, "state": row.state,
             "path": str(row.path) if row.path else None}
            for row in from_environment().inventory(full=args.verify, available=True)]
    if args.json:
        print_json(rows)
    else:
        for row in rows:
            warning = "  (!) " + row["license_warning"] if row["license_warning"] else ""
            print(f"{row['id']:<32} {row['kind']:<11} {row['state']:<10} {row['size_mb']:>7} MB  "
                  f"{' '.join(row['languages'])}  [{row['license']}]{warning}")
    return 0

def models_verify(args) -> int:
    present = from_environment().installed()
    ids = args.ids or sorted(present)
    checks = [models.check_model(present[i]) if i in present else models.Check(i, "missing", ("not installed",)) for i in ids]
    if args.json:
        print_json([{"id": c.model_id, "state": c.state, "problems": list(c.problems)} for c in checks])
    else:
        for c in checks:
            print(f"{c.model_id:<28} {c.state}" + (f": {'; '.join(c.problems)}" if c.problems else ""))
    return 0 if all(c.ok for c in checks) else 1

def models_install_defaults(args) -> int:
    with _model_files():
        ready = from_environment().ensure_defaults()
    _print_installed(args, ready, "ready")
    return 0

def models_pull(args) -> int:
    from kiosk.store import pull

    store = from_environment()
    entries = []
    for model_id in dict.fromkeys(args.ids):
        entry = store.catalog.get(model_id)
        if entry is None:
            raise BadInput(f"{model_id} is not in the catalogue; `kiosk models list` shows what is")
        entries.append(entry)
    present = store.installed()
    pulled = []
    with _model_files():
        for entry in entries:
            model = present.get(entry.id)
            if model is not None and not args.force and models.check_model(model).ok:
                pulled.append(model)  # already here and intact: nothing to download
                continue
            if entry.license_warning:
                print(f"kiosk: licence of {entry.id}: {entry.license_warning}", file=sys.stderr)
            pulled.append(pull.pull(store, entry))
    _print_installed(args, pulled, "installed")
    return 0

def models_import(args) -> int:
    from kiosk.store import packs

    languages = tuple(code.strip() for code in args.languages.split(",")) if args.languages else ()
    options = packs.ImportOptions(model_id=args.id, kind=args.kind, family=args.family, languages=languages,
                                  license=args.license)
    with _model_files():
        imported = packs.import_path(from_environment(), args.path, options)
    _print_installed(args, imported, "imported")
    return 0

def models_export(args) -> int:
    from kiosk.store import packs

    with _model_files():
        exported = packs.export_pack(from_environment(), args.ids, args.to)
    size_mb = round(args.to.stat().st_size / 1e6, 1)
    if args.json:
        print_json({"to": str(args.to), "size_mb": size_mb, "models": [m.id for m in exported]})
    else:
        print(f"{len(exported)} model(s) ({', '.join(m.id for m in exported)}), {size_mb} MB, written to {args.to}")
    return 0

def models_remove(args) -> int:
    store = from_environment()
    with _model_files():
        removed = {model_id: store.remove(model_id) for model_id in dict.fromkeys(args.ids)}
    if args.json:
        print_json([{"id": model_id, "path": str(path)} for model_id, path in removed.items()])
    else:
        for model_id, path in removed.items():
            print(f"{model_id:<28} removed from {path.parent}")
    return 0

def _print_installed(args, installed: list[models.InstalledModel], verb: str) -> None:
    if args.json:
        print_json([{"id": m.id, "kind": m.kind, "languages": list(m.languages), "license": m.license,
                      "size_mb": round(m.size / 1e6, 1), "path": str(m.path)} for m in installed])
    else:
        for m in installed:
            print(f"{m.id:<28} {verb}: {m.path}")

@contextmanager
def _model_files():
    """A full disk or a denied permission while handling model files is reported, never a traceback."""
    try:
        yield
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        raise ProvisioningFailed(f"{where}{error.strerror or error}") from None
