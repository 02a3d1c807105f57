"""Schemathesis hooks for the Custos API run (crates/custos/tests/openapi.rs).

`custos_roles` checks every generated request against the operation's
`x-custos-roles` in the OpenAPI document: the role the run signs in as
(CUSTOS_ROLE) gets 403 from an operation that does not list it, whatever the
parameters and body, and never 403 from one that does (the run uses a bearer
token, so no CSRF refusal applies).
"""

import os

import schemathesis

ROLE = os.environ.get("CUSTOS_ROLE", "")


@schemathesis.check
def custos_roles(ctx, response, case):
    roles = case.operation.definition.raw.get("x-custos-roles")
    if roles is None or response.status_code == 401:
        # An open operation, or a request sent without the run's credentials.
        return None
    if case.method.upper() != case.operation.method.upper():
        # A method the path does not serve (405 from the router).
        return None
    listed = ROLE in roles
    if not listed and response.status_code != 403:
        raise AssertionError(
            f"{case.operation.label} answered {response.status_code} to role {ROLE!r}, "
            f"which x-custos-roles {roles} does not list (expected 403)"
        )
    if listed and response.status_code == 403:
        raise AssertionError(
            f"{case.operation.label} refused role {ROLE!r} (403) although x-custos-roles {roles} lists it"
        )
    return None
