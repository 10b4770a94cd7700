"""GET /api/v1/stations, /stations/<code> and /stations/<code>/devices, and JSON 404/405."""

from __future__ import annotations

import pytest

from tests.integration.central.api.conftest import TOKEN

pytestmark = pytest.mark.integration


def test_stations_are_listed_by_code(get, log) -> None:
    """Every station, by code, with its device codes and a health slot."""
    response = get("/api/v1/stations")
    assert response.status_code == 200
    stations = response.json["stations"]
    assert [s["code"] for s in stations] == ["joy-fm", "peace-fm"]
    assert stations[0]["devices"] == ["pi-01", "pi-02"]
    assert stations[0]["name"] == "Station joy-fm"
    assert sum(stations[0]["health"]["device_states"].values()) == len(stations[0]["devices"])
    assert stations[0]["created_at"].endswith("Z")


def test_one_station(get, log) -> None:
    """/stations/<code> is that station's record."""
    response = get("/api/v1/stations/peace-fm")
    assert response.status_code == 200
    assert response.json["code"] == "peace-fm" and response.json["devices"] == []


def test_devices_of_a_station(get, log) -> None:
    """Devices by code, active or revoked with the time, and never the password hash."""
    response = get("/api/v1/stations/joy-fm/devices")
    assert response.status_code == 200
    assert response.json["station"] == "joy-fm"
    pi1, pi2 = response.json["devices"]
    assert (pi1["code"], pi1["active"], pi1["revoked_at"]) == ("pi-01", True, None)
    assert (pi2["code"], pi2["active"]) == ("pi-02", False) and pi2["revoked_at"].endswith("Z")
    assert pi1["health"]["state"] == "never_seen" and pi1["health"]["events"] == []
    assert "$7$" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/stations/nope",
        "/api/v1/stations/nope/devices",
        "/api/v1/stations/nope/plays",
        "/api/v1/stations/nope/detections",
        "/api/v1/stations/%00/plays",
        "/api/v1/stations/" + "x" * 5000,
        "/api/v1/plays/999999",
        "/api/v1/plays/99999999999999999999",
        "/api/v1/plays/-1",
        "/api/v1/plays/abc",
        "/api/v1/no-such-thing",
        "/api/v2/stations",
    ],
)
def test_unknown_things_are_json_404(get, log, path: str) -> None:
    """Unknown stations, plays and URLs under /api are 404 with a JSON error, never a 500."""
    response = get(path)
    assert response.status_code == 404
    assert response.is_json and response.json["status"] == 404 and response.json["detail"]


def test_unknown_station_is_named(get, log) -> None:
    """The 404 of a well-formed unknown code names it."""
    assert get("/api/v1/stations/nope/plays").json["detail"] == "no station nope"


def test_wrong_method_is_json_405_with_allow(api_app, log) -> None:
    """DELETE of the station list, with the token, is 405 in JSON, with the Allow header kept."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = api_app.test_client().delete("/api/v1/stations", headers=headers)
    assert response.status_code == 405 and response.is_json
    assert "GET" in response.headers["Allow"]


def test_errors_outside_the_api_stay_html(api_app) -> None:
    """A 404 outside /api is Flask's own page: the API's handler does not take over the app."""
    response = api_app.test_client().get("/no-such-page")
    assert response.status_code == 404 and not response.is_json
