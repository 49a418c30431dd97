"""Sign in with a token, sign out."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from mlsteward.errors import Unauthenticated
from mlsteward.identity.sessions import SessionService
from mlsteward.web.render import render, secure_headers
from mlsteward.web.session import (
    PREFIX,
    SESSION_COOKIE,
    Page,
    base_context,
    check_csrf,
    current_page,
    double_submit,
    safe_next,
)

router = APIRouter()


def _anonymous(request: Request) -> Page:
    csrf, new = double_submit(request)
    return Page(request, base_context(request), None, csrf, new)


@router.get("/sign-in")
def sign_in_form(
    request: Request, next: Annotated[str | None, Query(max_length=2000)] = None
) -> Response:
    page = _anonymous(request)
    return render(page, "sign_in.html", next=safe_next(next), error=None)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    page = _anonymous(request)
    form = await check_csrf(request, request.cookies.get("mlsteward_csrf", ""))
    target = safe_next(form.get("next"))
    ctx = base_context(request)
    minutes = ctx.settings.web_session_minutes
    try:
        opened = SessionService(ctx).open(
            form.get("token", "").strip(), lifetime=dt.timedelta(minutes=minutes)
        )
    except Unauthenticated as exc:
        return render(page, "sign_in.html", 401, next=target, error=exc.message)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        opened.secret,
        max_age=minutes * 60,
        httponly=True,
        samesite="lax",
        path=PREFIX,
        secure=request.url.scheme == "https",
    )
    secure_headers(response)
    return response


@router.post("/sign-out")
async def sign_out(
    request: Request, page: Annotated[Page, Depends(current_page)]
) -> Response:
    await check_csrf(request, page.csrf)
    SessionService(page.ctx).end(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    secure_headers(response)
    return response
