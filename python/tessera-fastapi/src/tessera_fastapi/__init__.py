"""Verify Tessera's (and Better Auth's) JWTs in FastAPI.

    from fastapi import Depends, FastAPI
    from tessera_fastapi import TesseraAuth, TesseraUser

    auth = TesseraAuth(
        jwks_url="http://127.0.0.1:3000/api/auth/jwks",
        revocations_url="http://127.0.0.1:3000/api/auth/revocations",
    )
    app = FastAPI(lifespan=auth.lifespan)

    @app.get("/api/{user_id}/tasks")
    async def tasks(user_id: str, user: TesseraUser = Depends(auth.require_path_user)):
        ...
"""

from ._auth import TesseraAuth, TesseraUser
from ._errors import TokenRejected

__all__ = ["TesseraAuth", "TesseraUser", "TokenRejected"]
