"""Every refusal of the HTTP layer is a GraphQL error body with a code.

Strawberry answers the requests it cannot run (no query, an unknown operationName, a
mutation over GET, an unsupported content type, variables that are not JSON) with
`text/plain`, and FastAPI answers unknown paths and methods with `{"detail": ...}`.
Clients parse `errors[0].extensions.code` whatever the status, so both kinds are
answered here, in the shape of `gql.errors.error_body`.
"""

from collections.abc import Mapping

from cross_web import HTTPException as StrawberryHTTPException
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from strawberry.schema.exceptions import InvalidOperationTypeError

from gql.errors import Code, error_body

# Strawberry says 400 for every refusal; these have a status of their own. The
# GraphQL-over-HTTP spec wants 405 for a mutation over GET, and a body that is not
# JSON (or multipart) is an unsupported media type.
_UNSUPPORTED_MEDIA_TYPE = "Unsupported content type"
# Strawberry words a query string's `variables` that are not JSON as a body problem.
_NOT_JSON = "Unable to parse request body as JSON"


def refusal(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    code = Code.NOT_FOUND if status == 404 else Code.BAD_USER_INPUT
    return JSONResponse(error_body(message, code), status_code=status, headers=headers)


def strawberry_refusal(exc: StrawberryHTTPException, method: str) -> JSONResponse:
    """The answer to one of the HTTPExceptions Strawberry's view raises."""
    if method == "GET" and exc.reason == _NOT_JSON:
        return refusal(400, "the query string's variables or extensions are not valid JSON")
    if isinstance(exc.__cause__, InvalidOperationTypeError):
        return refusal(405, exc.reason, {"Allow": "POST"})
    if exc.reason == _UNSUPPORTED_MEDIA_TYPE:
        return refusal(
            415, "Unsupported content type: send application/json (or a GET with ?query=)"
        )
    if exc.status_code == 405:  # a method other than GET and POST (HEAD, say)
        return refusal(405, exc.reason, {"Allow": "GET, POST"})
    return refusal(exc.status_code, exc.reason)


def install_refusals(app: FastAPI, *, graphql_path: str) -> None:
    """FastAPI's own answers (unknown path, wrong method, bad parameters) as GraphQL errors."""

    async def http_exception(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and request.url.path == graphql_path:
            # Starlette names only the first route of the path (GET); POST is there too.
            headers["Allow"] = "GET, POST"
        message = str(exc.detail)
        if "Allow" in headers:
            message = f"{message}: this path answers {headers['Allow']}"
        return refusal(exc.status_code, message, headers)

    async def request_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # Where and which rule, never the value sent.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        return refusal(422, problems or "the request does not match this endpoint")

    app.add_exception_handler(StarletteHTTPException, http_exception)
    app.add_exception_handler(RequestValidationError, request_validation)
