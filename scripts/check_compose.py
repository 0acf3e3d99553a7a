"""Static checks of a rendered service's compose.yaml, for machines without a Docker engine.

Usage: python3 scripts/check_compose.py SERVICE_DIR
Checks: every file parses as YAML; each service has an image or a build; everything in
depends_on is a service; every bind-mounted file exists in the render; every named volume is
declared; published ports are bound to 127.0.0.1 (nothing is exposed beyond the machine).
"""
import pathlib
import sys

import yaml

root = pathlib.Path(sys.argv[1])
problems = []
compose = yaml.safe_load((root / "compose.yaml").read_text())
for extra in sorted((root / "deploy").glob("*.y*ml")):
    yaml.safe_load(extra.read_text())  # raises on a syntax error

services = compose.get("services", {})
volumes = set(compose.get("volumes") or {})
for name, service in services.items():
    if "image" not in service and "build" not in service:
        problems.append(f"{name}: neither image nor build")
    depends = service.get("depends_on") or []
    for dep in depends if isinstance(depends, list) else depends.keys():
        if dep not in services:
            problems.append(f"{name}: depends on unknown service {dep}")
    for volume in service.get("volumes") or []:
        source = volume.split(":")[0]
        if source.startswith("."):
            if not (root / source).exists():
                problems.append(f"{name}: mounts missing file {source}")
        elif source not in volumes:
            problems.append(f"{name}: volume {source} is not declared")
    for port in service.get("ports") or []:
        if not str(port).startswith("127.0.0.1:"):
            problems.append(f"{name}: port {port} is published beyond 127.0.0.1")

for problem in problems:
    print(problem)
print(f"compose.yaml: {len(services)} services, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
