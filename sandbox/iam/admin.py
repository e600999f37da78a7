"""The deployer's identity: an IAM user of the local AWS allowed everything.

moto refuses access keys it does not know once IAM is enforced, so Terraform, the tests'
set-up and `make sandbox` users sign with this fixed key. The user is created on first use
in each account (moto's reset clears IAM, the key stays valid).
"""

from __future__ import annotations

import json
import threading

from moto.utilities.utils import get_partition

USER_NAME = "local-admin"
# Plainly not AWS keys (no AKIA-style prefix, no entropy): nothing to leak, nothing for a secret
# scanner to flag in the local example that uses them.
ACCESS_KEY = "LOCALADMINKEY0000000"  # 20 characters [A-Z0-9], as moto reads keys
SECRET_KEY = "local-admin"
POLICY_NAME = "AdministratorAccess"
_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
_lock = threading.Lock()


def ensure(account_id: str) -> None:
    """Create the admin user with its fixed key in ``account_id`` unless it exists."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account_id][get_partition("us-east-1")]
    with _lock:
        if USER_NAME in backend.users:
            return
        backend.create_user(region_name="us-east-1", user_name=USER_NAME, path="/", tags=[])
        backend.put_user_policy(USER_NAME, POLICY_NAME, _POLICY)
        key = backend.create_access_key(USER_NAME)
        del backend.access_keys[key.access_key_id]
        key.access_key_id, key.secret_access_key = ACCESS_KEY, SECRET_KEY
        backend.access_keys[ACCESS_KEY] = key
