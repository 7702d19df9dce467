# Downloads a .tar.gz and unpacks it into /tmp. With "stream" it reads the
# archive as it arrives, holding a chunk at a time; with "read-all" it reads
# the whole download into memory first.
import io
import os
import tarfile
import urllib.request


def handler(event, context):
    dest = "/tmp/unpacked"
    with urllib.request.urlopen(event["url"]) as resp:
        if event.get("mode") == "read-all":
            data = resp.read()
            archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")
        else:
            archive = tarfile.open(fileobj=resp, mode="r|gz")
        with archive:
            archive.extractall(dest)
    files, size = 0, 0
    for root, _, names in os.walk(dest):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(root, name))
    return {"files": files, "bytes": size}
