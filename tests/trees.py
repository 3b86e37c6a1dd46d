"""A folder's files as a test compares them."""

import hashlib


def sha256_tree(root):
    """Every file under `root`, by its path relative to it, with its sha256."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file()
    }
