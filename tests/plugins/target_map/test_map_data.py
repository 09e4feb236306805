"""金融生态图: what the map shows per outlet (R-03 modules, R-04 perspectives and owners, A-01 保抢挖), who sees which
nodes (design §4: scope; outlet staff also see their outlet's unclaimed targets), the panel, and the plugin switch."""

from __future__ import annotations

import pytest

from crm.extensions import db
from tests.conftest import CANARY_B, make_user
from tests.plugins.target_map.helpers_map import MAP, corp, on_map, uscc

CANARY_A2 = "CANARYA2"


@pytest.fixture
def world(tm):
    org = tm
    w = {
        "stock": corp(org.a, "甲存量大户", status="stock", module="corporate", maintainer=org.head_a,
                      deposit="3000000.00", cert=uscc(1), maintenance_target="年末日均存款提升至5000万元"),
        "grab": corp(org.a, "甲目标抢户", status="target", module="institutional", maintainer=org.rm_a,
                     revenue="150000000", cert=uscc(2), near_term_target="6月底前开立基本户"),
        "free": corp(org.a, "甲目标未分配", status="target", module="international", cert=uscc(3)),
        "plain": corp(org.a, "甲目标无标签", status="target", module="agri_realestate", maintainer=org.head_a,
                      cert=uscc(4)),
        "offmap": corp(org.a, "甲未上图企业", status="stock", cert=uscc(5)),
        "a2": corp(org.a2, f"甲二企业{CANARY_A2}", status="stock", maintainer=org.rm_a2, deposit="999", cert=uscc(6)),
        "b": corp(org.b, f"乙企业{CANARY_B}", status="target", cert=uscc(7)),
    }
    on_map(w["stock"], tag="keep", source="上级行企业名录", tax_rank=12, trade_rank=3)
    on_map(w["grab"], tag="grab", scale="20000000")
    on_map(w["free"], tag="dig", scale="5000000.50")
    on_map(w["plain"])
    on_map(w["a2"], tag="keep")
    on_map(w["b"], tag="dig", scale="1")
    return w


def nodes_by_customer(data: dict) -> dict[int, list]:
    return {n[1]: n for n in data["nodes"]}


def test_map_data_groups_by_module_sizes_by_deposit_or_scale_and_names_the_owner(world, client, tm):
    """R-03/R-04/A-01: each node carries its module, perspective, 保抢挖, owner and value (yuan, half up)."""
    client.login("HA0001")
    resp = client.get(f"{MAP}/outlets/{tm.a.id}/map.json")
    assert resp.status_code == 200
    data = resp.get_json()
    assert data["outlet"] == "甲网点"
    assert data["modules"] == ["公司业务", "机构业务", "三农房地产", "国际业务"]
    assert data["tags"] == ["保", "抢", "挖"]
    nodes = nodes_by_customer(data)
    assert set(nodes) == {world[k].id for k in ("stock", "grab", "free", "plain")}  # not the one off the map
    people = data["people"]
    stock = nodes[world["stock"].id]
    # [entry, customer, name, module, perspective, tag, owner, value, flags]
    assert stock[2:6] == ["甲存量大户", 0, 0, 0]
    assert people[stock[6]] == "网点甲负责人"  # 维护责任人
    assert stock[7] == 3_000_000  # stock: deposits
    assert stock[8] & 1  # the head may open it
    grab = nodes[world["grab"].id]
    assert grab[3:6] == [1, 1, 1]  # 机构业务, target, 抢
    assert people[grab[6]] == "甲客户经理"  # 营销人
    assert grab[7] == 20_000_000  # target: expected scale
    free = nodes[world["free"].id]
    assert free[3:7] == [3, 1, 2, -1]  # 国际业务, target, 挖, unassigned
    assert free[7] == 5_000_001  # 5,000,000.50 rounds half up
    assert free[8] == 1 | 4  # openable by the head, unclaimed
    plain = nodes[world["plain"].id]
    assert plain[3:6] == [2, 1, -1] and plain[7] == 0  # 三农房地产, no tag, no expected scale yet
    assert sorted(people) == ["甲客户经理", "网点甲负责人"]
    body = resp.get_data(as_text=True)
    assert CANARY_A2 not in body and CANARY_B not in body


def test_map_page_counts_per_module_and_perspective(world, client, tm):
    client.login("HA0001")
    page = client.get(f"{MAP}/outlets/{tm.a.id}").get_data(as_text=True)
    assert "金融生态图" in page and f'data-url="{MAP}/outlets/{tm.a.id}/map.json"' in page
    for module, n in (("corporate", 1), ("institutional", 1), ("agri_realestate", 1), ("international", 1)):
        assert f'data-tm-count="{module}">{n} ' in page
    assert 'data-tm-unassigned>1<' in page  # 甲目标未分配
    assert "年销售收入 ≥ 1.00 亿元 的给网点负责人" in page  # the default threshold
    assert CANARY_A2 not in page and CANARY_B not in page


def test_outlet_head_never_sees_another_outlet_or_branch(world, client, tm):
    """Design §4: another outlet's or 分行's map, data, table, export and entries answer 404 without a byte."""
    client.login("HA0001")
    a2_entry = world["a2"].id
    for outlet in (tm.a2, tm.b):
        for path in ("", "/map.json", "/table", "/export.xlsx", "/candidates?q=甲"):
            resp = client.get(f"{MAP}/outlets/{outlet.id}{path}")
            assert resp.status_code == 404, path
            assert CANARY_A2.encode() not in resp.data and CANARY_B.encode() not in resp.data
    from plugins.target_map.services_map import entry_of_customer

    entry = entry_of_customer(a2_entry)
    for path in (f"/entries/{entry.id}/card", f"/entries/{entry.id}/edit", f"/panel/{a2_entry}"):
        resp = client.get(MAP + path)
        assert resp.status_code == 404 and CANARY_A2.encode() not in resp.data
    assert client.get(f"{MAP}/?outlet={tm.b.id}").status_code == 404
    # The outlet switch offers only the head's own outlet.
    page = client.get(f"{MAP}/outlets/{tm.a.id}").get_data(as_text=True)
    assert "甲二网点" not in page and CANARY_B not in page


def test_personal_rm_sees_own_and_own_outlet_unclaimed_targets(world, client, tm):
    """A personal RM (own scope) sees the targets they market and the outlet's unclaimed targets (熟客认领), not the
    head's customers; the unclaimed ones cannot be opened, only claimed."""
    client.login("RA0001")
    data = client.get(f"{MAP}/outlets/{tm.a.id}/map.json").get_json()
    nodes = nodes_by_customer(data)
    assert set(nodes) == {world["grab"].id, world["free"].id}
    assert nodes[world["grab"].id][8] & 1  # own: opens
    assert nodes[world["free"].id][8] == 4  # pool: not openable, unclaimed
    assert data["people"] == ["甲客户经理"]  # nobody else's name
    page = client.get(f"{MAP}/outlets/{tm.a.id}/table").get_data(as_text=True)
    assert "甲存量大户" not in page and "甲目标无标签" not in page
    assert f'href="/customers/{world["free"].id}"' not in page and "甲目标未分配" in page
    assert f'{MAP}/entries/' in page and "认领" in page
    assert client.get(f"/customers/{world['free'].id}").status_code == 404  # its page stays out of scope
    card = client.get(f"{MAP}/entries/{nodes[world['free'].id][0]}/card")
    assert card.status_code == 200 and "认领（熟客认领）" in card.get_data(as_text=True)
    assert client.get(f"{MAP}/outlets/{tm.a2.id}/map.json").status_code == 404


def test_branch_admin_opens_every_outlet_of_the_branch_only(world, client, tm):
    client.login("BA0001")
    for outlet in (tm.a, tm.a2):
        assert client.get(f"{MAP}/outlets/{outlet.id}/map.json").status_code == 200
    data = client.get(f"{MAP}/outlets/{tm.a2.id}/map.json").get_json()
    assert [n[2] for n in data["nodes"]] == [f"甲二企业{CANARY_A2}"]
    assert client.get(f"{MAP}/outlets/{tm.b.id}/map.json").status_code == 404
    page = client.get(f"{MAP}/outlets/{tm.a.id}").get_data(as_text=True)
    assert "甲二网点" in page and CANARY_B not in page  # the switch lists the branch's outlets


def test_disabled_plugin_leaves_no_trace_and_the_customer_list_works(world, client, tm, enable_plugin):
    """Design §3.3: off for 分行 b1 → every route 404, no menu item, no panel; the core pages work; 分行 b2 unaffected."""
    enable_plugin(tm.b1, "target_map", False)
    client.login("HA0001")
    entry_id = nodes_by_customer_entry(world["stock"].id)
    for path in ("/", f"/outlets/{tm.a.id}", f"/outlets/{tm.a.id}/map.json", f"/outlets/{tm.a.id}/table",
                 f"/outlets/{tm.a.id}/export.xlsx", "/import", f"/panel/{world['stock'].id}",
                 f"/entries/{entry_id}/card", f"/entries/{entry_id}/edit"):
        assert client.get(MAP + path).status_code == 404, path
    assert client.post(f"{MAP}/outlets/{tm.a.id}/assign").status_code == 404
    home = client.get("/").get_data(as_text=True)
    assert "金融生态图" not in home
    detail = client.get(f"/customers/{world['stock'].id}")
    assert detail.status_code == 200 and "target_map" not in detail.get_data(as_text=True)
    listing = client.get("/customers")
    assert listing.status_code == 200 and "甲存量大户" in listing.get_data(as_text=True)
    other = type(client)(client.app)
    other.login("HB0001")
    assert other.get(f"{MAP}/outlets/{tm.b.id}/map.json").status_code == 200
    enable_plugin(tm.b1, "target_map", True)  # back on: no restart needed
    assert client.get(f"{MAP}/outlets/{tm.a.id}/map.json").status_code == 200
    assert "金融生态图" in client.get("/").get_data(as_text=True)


def nodes_by_customer_entry(customer_id: int) -> int:
    from plugins.target_map.services_map import entry_of_customer

    return entry_of_customer(customer_id).id


def test_panel_shows_module_perspective_owner_targets_tag_rankings_source(world, client, tm):
    client.login("HA0001")
    detail = client.get(f"/customers/{world['stock'].id}").get_data(as_text=True)
    assert f"{MAP}/panel/{world['stock'].id}" in detail
    panel = client.get(f"{MAP}/panel/{world['stock'].id}").get_data(as_text=True)
    for text in ("公司业务", "存量客户", "维护责任人", "网点甲负责人", "年末日均存款提升至5000万元", "保", "纳税第12名",
                 "进出口第3名", "上级行企业名录"):
        assert text in panel, text
    target = client.get(f"{MAP}/panel/{world['grab'].id}").get_data(as_text=True)
    for text in ("机构业务", "目标客户", "营销人", "甲客户经理", "6月底前开立基本户", "2,000.00 万元"):
        assert text in target, text
    off = client.get(f"{MAP}/panel/{world['offmap'].id}").get_data(as_text=True)
    assert "尚未加入网点金融生态图" in off and "加入生态图" in off
    assert client.get(f"{MAP}/panel/{world['a2'].id}").status_code == 404


def test_branch_staff_open_the_first_outlet_with_a_map(world, client, tm):
    make_user("BH0001", "branch_head", branch=tm.b1, name="分行负责人一")
    db.session.commit()
    client.login("BH0001")
    resp = client.get(f"{MAP}/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/outlets/{tm.a.id}")
    resp = client.get(f"{MAP}/?outlet={tm.a2.id}&view=table")
    assert resp.headers["Location"].endswith(f"/outlets/{tm.a2.id}/table")
