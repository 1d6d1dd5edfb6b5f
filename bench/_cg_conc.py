import asyncio, sys, gc, json
sys.path.insert(0, "/work/main/bench")
from collections import Counter
from overhead import make_side, mock_transport
from concurrency import _drive
from instructions import mark
import os
async def main(side, level, n):
    if os.environ.get("NOGC"): gc.disable()
    seen = Counter()
    call, closer = make_side(side, mock_transport(seen, suspend=True))
    await _drive(call, 200, 100)
    gc.collect()
    for batch in (n, 6*n):
        mark()
        await _drive(call, batch, min(level, batch))
    mark()
    await closer.aclose()
    print(json.dumps({"responses": seen["create"]}))
asyncio.run(main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
