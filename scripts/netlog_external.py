"""Lists the requests that a page made to other hosts, from a Chromium net log.

Usage: python3 scripts/netlog_external.py NETLOG ORIGIN
Prints every URL the page at ORIGIN requested (its network isolation key names ORIGIN's site)
outside ORIGIN, and exits 1 if there is any, or if the page never fetched /openapi.json (then
Redoc did not run, and the check would prove nothing). Requests that Chromium makes for itself
(updates, time sync) carry no page's key and are ignored.
"""
import json
import sys
from urllib.parse import urlsplit

netlog, origin = sys.argv[1], sys.argv[2].rstrip("/")
site = "{0.scheme}://{0.hostname}".format(urlsplit(origin))
log = json.load(open(netlog))
start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]

page_urls = set()
for event in log["events"]:
    params = event.get("params") or {}
    if event["type"] == start_job and site in params.get("network_isolation_key", ""):
        page_urls.add(params["url"])

external = sorted(u for u in page_urls if not u.startswith(origin + "/"))
for url in sorted(page_urls):
    print(("EXTERNAL " if url in external else "local    ") + url)
if not any(u.startswith(origin + "/openapi.json") for u in page_urls):
    sys.exit("the page never fetched /openapi.json: Redoc did not run")
if external:
    sys.exit(f"the page made {len(external)} request(s) to other hosts")
print(f"the page made {len(page_urls)} request(s), all to {origin}")
