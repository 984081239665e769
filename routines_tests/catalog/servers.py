"""Loopback servers for the catalog tests, answering in the real formats: the Banco Central's PTAX OData
service (olinda.bcb.gov.br) and Tesouro Transparente's Tesouro Direto CSV."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from urllib.parse import unquote

from routines_tests.helpers import QuietHandler

# PTAX of days around Carnival 2025 (values as published, 4 decimals; dataHoraCotacao with milliseconds)
PTAX = {
    date(2025, 2, 27): ("5.8183", "5.8189", "2025-02-27 13:03:32.145"),
    date(2025, 2, 28): ("5.8979", "5.8985", "2025-02-28 13:06:29.877"),
    date(2025, 3, 5): ("5.8021", "5.8027", "2025-03-05 13:04:28.436"),
    date(2025, 3, 6): ("5.7615", "5.7621", "2025-03-06 13:04:26.457"),
}

TESOURO_HEADER = (
    "Tipo Titulo;Data Vencimento;Data Base;Taxa Compra Manha;Taxa Venda Manha;PU Compra Manha;"
    "PU Venda Manha;PU Base Manha"
)
TESOURO_ROWS = [
    "Tesouro IPCA+ com Juros Semestrais;15/05/2035;27/02/2025;7,36;7,48;4163,08;4124,96;4122,42",
    "Tesouro Selic;01/03/2027;27/02/2025;0,0512;0,0612;15916,44;15908,99;15897,95",
    "Tesouro Prefixado;01/01/2028;27/02/2025;14,72;14,84;670,93;668,97;668,43",
    "Tesouro IPCA+ com Juros Semestrais;15/05/2035;28/02/2025;7,40;7,52;4150,01;4111,80;4109,27",
    "Tesouro Selic;01/03/2027;28/02/2025;0,0522;0,0622;15922,15;15914,63;15903,56",
    "Tesouro Prefixado;01/01/2028;28/02/2025;14,81;14,93;669,12;667,16;666,62",
]


def tesouro_csv(rows=TESOURO_ROWS) -> bytes:
    return ("\r\n".join([TESOURO_HEADER, *rows]) + "\r\n").encode("latin-1")


def ptax_document(day: date) -> dict:
    values = []
    if day in PTAX:
        buy, sell, moment = PTAX[day]
        values.append({"cotacaoCompra": float(buy), "cotacaoVenda": float(sell), "dataHoraCotacao": moment})
    return {
        "@odata.context": "https://was-p.bcnet.bcb.gov.br/olinda/servico/PTAX/versao/v1/odata$metadata"
        "#_CotacaoDolarDia(cotacaoCompra,cotacaoVenda,dataHoraCotacao)",
        "value": values,
    }


def ptax_bulletins(day: date) -> dict:
    values = []
    if day in PTAX:
        buy, sell, _moment = PTAX[day]
        for hour, kind in (
            (10, "Abertura"),
            (11, "Intermediário"),
            (12, "Intermediário"),
            (13, "Fechamento"),
        ):
            values.append(
                {
                    "paridadeCompra": 1.0,
                    "paridadeVenda": 1.0,
                    "cotacaoCompra": float(buy),
                    "cotacaoVenda": float(sell),
                    "dataHoraCotacao": f"{day:%Y-%m-%d} {hour}:04:1{hour % 10}.{hour}7",
                    "tipoBoletim": kind,
                }
            )
    return {
        "@odata.context": "https://was-p.bcnet.bcb.gov.br/olinda/servico/PTAX/versao/v1/odata$metadata",
        "value": values,
    }


class OpenDataServer(QuietHandler):
    """GET /olinda/servico/PTAX/versao/v1/odata/CotacaoDolarDia(...)?@dataCotacao='MM-DD-YYYY'&$format=json,
    .../CotacaoMoedaDia(...) and the Tesouro Direto CSV (`server.tesouro`: bytes, or an int status)."""

    def do_GET(self) -> None:  # noqa: N802
        path = unquote(self.path)
        self.server.requests.append(path)
        if "/olinda/servico/PTAX/" in path:
            match = re.search(r"@dataCotacao='(\d{2}-\d{2}-\d{4})'", path)
            if not match or "$format=json" not in path:
                self.send_body(400, b'{"error":"parametro invalido"}', "application/json")
                return
            day = datetime.strptime(match.group(1), "%m-%d-%Y").date()
            document = ptax_bulletins(day) if "CotacaoMoedaDia" in path else ptax_document(day)
            self.send_body(200, json.dumps(document).encode(), "application/json;odata.metadata=minimal")
            return
        if path.endswith("/PrecoTaxaTesouroDireto.csv"):
            body = self.server.tesouro
            if isinstance(body, int):
                self.send_body(body, b"<html><body>erro</body></html>", "text/html")
            else:
                self.send_body(200, body, "text/csv")
            return
        self.send_body(404, b"<html><body>Not Found</body></html>", "text/html")


def serve_open_data(**attributes):
    from routines_tests.helpers import serve

    attributes.setdefault("tesouro", tesouro_csv())
    return serve(OpenDataServer, requests=[], **attributes)
