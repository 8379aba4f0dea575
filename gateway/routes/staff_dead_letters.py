"""Events in failure (dead letters) and their replay, for administrators: each service lists and
replays its own consumers' dead letters, kept in its own dead-letter stream
(`rpc.<service>.dead_letters`, `.replay_dead_letter`); the gateway asks every service for the list
and merges the answers, and asks the letter's service (a letter is numbered within it) for a replay."""

from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import BaseModel, Field

from ecandidat.contracts import deadletters as dl
from ecandidat.contracts.base import RpcReply
from ecandidat.contracts.access import OPERATORS
from ecandidat.contracts.errors import NotFound, ServiceError
from ecandidat.contracts.subjects import rpc_operation_subject

from ..api import API_PREFIX, PRINCIPAL, REQUEST_ID, RPC, Api, json_response
from ..keys import SETTINGS

TAG = "exploitation"
BASE = f"{API_PREFIX}/staff/dead-letters"


class DeadLetterList(RpcReply):
    """Every service's dead letters, newest first (each service's newest `par_service` at most);
    the services that did not answer are named (their letters are missing from the list)."""

    items: list[dl.DeadLetterView]
    total: int = Field(description="How many events are in failure in all, listed or not (answering services)")
    par_service: int = Field(description="The most letters listed for one service")
    services_sans_reponse: list[str]


async def _ask_each(request: web.Request, operation: str, body: BaseModel) -> list[dict | ServiceError]:
    rpc, services = request.app[RPC], request.app[SETTINGS].gateway_services
    payload = body.model_dump_json().encode()

    async def ask(service: str) -> dict | ServiceError:
        try:
            return await rpc.call_subject(
                rpc_operation_subject(service, operation), payload, request_id=request[REQUEST_ID]
            )
        except ServiceError as err:
            return err

    return list(await asyncio.gather(*(ask(s) for s in services)))


def register(api: Api) -> None:
    @api.route(
        "GET",
        BASE,
        summary="Les événements en échec (lettres mortes) de chaque service, les plus récents "
        "d'abord : ce qui a échoué, quand, pourquoi",
        tag=TAG,
        response=DeadLetterList,
        realm="staff",
        roles=OPERATORS,
    )
    async def list_dead_letters(request: web.Request) -> web.Response:
        asked = dl.ListDeadLetters(principal=request[PRINCIPAL])
        answers = await _ask_each(request, dl.LIST_OPERATION, asked)
        services = request.app[SETTINGS].gateway_services
        forbidden = next((a for a in answers if isinstance(a, ServiceError) and a.code == "forbidden"), None)
        if forbidden is not None:
            raise forbidden
        lists = [dl.DeadLetters.model_validate(a) for a in answers if not isinstance(a, ServiceError)]
        items = [item for listed in lists for item in listed.items]
        missing = [s for s, a in zip(services, answers) if isinstance(a, ServiceError)]
        items.sort(
            key=lambda letter: (letter.dead_lettered_at is not None, letter.dead_lettered_at, letter.seq), reverse=True
        )
        total = sum(listed.total for listed in lists)
        return json_response(
            DeadLetterList(items=items, total=total, par_service=asked.limit, services_sans_reponse=missing)
        )

    @api.route(
        "POST",
        f"{BASE}/{{service}}/{{seq}}/replay",
        summary="Rejouer un événement en échec : le consommateur qui avait "
        "échoué le traite de nouveau (un événement déjà traité ne change rien)",
        tag=TAG,
        response=dl.DeadLetterReplayed,
        realm="staff",
        roles=OPERATORS,
        responses={404: "Événement inconnu ou déjà rejoué", 409: "Le rejeu a de nouveau échoué"},
    )
    async def replay_dead_letter(request: web.Request) -> web.Response:
        raw, service = request.match_info["seq"], request.match_info["service"]
        if service not in request.app[SETTINGS].gateway_services or not raw.isdigit() or not 0 < int(raw) < 2**63:
            raise NotFound("Cet événement en échec n'existe pas.")
        req = dl.ReplayDeadLetter(principal=request[PRINCIPAL], seq=int(raw))
        done = await request.app[RPC].call_subject(
            rpc_operation_subject(service, dl.REPLAY_OPERATION),
            req.model_dump_json().encode(),
            request_id=request[REQUEST_ID],
        )
        return json_response(dl.DeadLetterReplayed.model_validate(done))
