from tests.helpers import login_as


def test_home_page_for_anonymous_lists_alliances(client, world):
    response = client.get("/")
    assert response.status_code == 200
    assert world.a.alliance.name in response.get_data(as_text=True)


def test_lead_logs_in_and_sees_the_register(client, world):
    login_as(world.a.lead, client)
    page = client.get(f"/alliances/{world.a.alliance.id}/shops").get_data(as_text=True)
    assert world.a.shop.name in page
