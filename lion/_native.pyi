"""Type stubs for the Rust core, `lion._native` (checked by mypy.stubtest)."""

__version__: str

def hmac_sha256(key: bytes, message: bytes) -> bytes: ...
def hmac_sha256_verify(key: bytes, message: bytes, tag: bytes) -> bool: ...

# --- policy (lion_rs/py/src/policy.rs) ---

# --- capability (lion_rs/py/src/capability.rs) ---

# --- compose (lion_rs/py/src/compose.rs) ---

# --- mailbox (lion_rs/py/src/mailbox.rs) ---
