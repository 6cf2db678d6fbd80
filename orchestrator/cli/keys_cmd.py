"""`rpa keys rotate|generate`: the master key that wraps every data key and credential."""

from __future__ import annotations

from pathlib import Path

import typer

from orchestrator.cli.common import STATE, actor, console, print_json
from orchestrator.errors import UsageError

keys_app = typer.Typer(help="The master key: rotate it, generate a new one.",
                       no_args_is_help=True)


@keys_app.command("rotate")
def rotate(
    new_key_file: Path | None = typer.Option(None, "--new-key-file", help="the new key "
                                             "(needed when RPA_SECRET_KEY holds the key)"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Re-wrap every data key and credential under a new master key (rows stay as they are)."""
    from orchestrator import key_rotation

    done = key_rotation.rotate(STATE.store, STATE.settings, actor=actor(),
                               new_key_file=new_key_file)
    if json_out:
        print_json({"data_keys": done.data_keys, "credentials": done.credentials,
                    "key_file": str(done.key_file) if done.key_file else None})
        return
    console.print(f"[green]✓[/] re-wrapped {done.data_keys} data key(s) and re-encrypted "
                  f"{done.credentials} credential(s) under the new master key")
    if done.key_file:
        console.print(f"  the new key is in {done.key_file} (mode 0600); backups taken "
                      "before now open only with the old one")
    else:
        console.print("  now set RPA_SECRET_KEY to the new key on every node")


@keys_app.command("generate")
def generate(path: Path = typer.Argument(..., help="where to write the new key (0600)")) -> None:
    """Write a new random master key to PATH, for `rpa keys rotate --new-key-file`."""
    from cryptography.fernet import Fernet

    from orchestrator.private_files import write_private

    if path.exists():
        raise UsageError(f"{path}: already exists; a key is never overwritten")
    try:
        write_private(path, Fernet.generate_key() + b"\n")
    except OSError as err:
        raise UsageError(f"{path}: cannot be written: {err.strerror or err}") from None
    console.print(f"[green]✓[/] a new key in {path} (mode 0600)")
