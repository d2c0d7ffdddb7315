from tests.dashboard.seed import store_inbound, store_ai_reply
from tests.dashboard.conftest import XSS

def test_smoke(operator, firestore_db):
    conv, wamid = store_inbound(firestore_db, wa_id="15551230001", name="Ana", text=XSS)
    store_ai_reply(firestore_db, conv, "15551230001", "Hi Ana", answered=[wamid])
    for url in ["/", "/conversations", f"/conversations/{conv}", "/quarantine", f"/conversations/{conv}/live"]:
        r = operator.get(url)
        print(url, r.status_code, r.headers.get("Content-Type"))
        assert r.status_code == 200, r.get_data(as_text=True)[:3000]
        assert XSS not in r.get_data(as_text=True)

def test_dump(operator, firestore_db):
    conv, wamid = store_inbound(firestore_db, wa_id="15551230001", name="Ana", text=XSS)
    store_ai_reply(firestore_db, conv, "15551230001", "Hi Ana", answered=[wamid])
    open("/tmp/dash/conv.html","w").write(operator.get(f"/conversations/{conv}").get_data(as_text=True))
    open("/tmp/dash/live.json","w").write(operator.get(f"/conversations/{conv}/live").get_data(as_text=True))
    open("/tmp/dash/overview.html","w").write(operator.get(f"/").get_data(as_text=True))
    r = operator.get(f"/conversations/{conv}")
    print(dict(r.headers))
