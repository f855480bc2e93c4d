#!/usr/bin/python3
"""Make damaged or hostile YOLOv5 checkpoints to test yolov5_pt.py's error handling.

Usage:
  yolov5_fixtures.py truncate SRC DST          first half of SRC's bytes
  yolov5_fixtures.py reshape SRC DST KEY       SRC with tensor KEY one row shorter (dim 0)
  yolov5_fixtures.py drop SRC DST KEY          SRC without parameter/buffer KEY
  yolov5_fixtures.py resave SRC DST            SRC read and written back unchanged
  yolov5_fixtures.py evil DST MARKER           a torch zip whose pickle calls os.system to
                                               create MARKER when unpickled by plain torch.load
SRC is read with yolov5_pt's restricted loader (no yolov5 code); the record tree is written
back with torch.save through a pure-Python pickler that names each recorded class by its
original module and name, so the result looks like the original checkpoint to a reader.
"""

import copyreg
import os
import pickle
import sys
import types

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "convert"))
import yolov5_pt as Y  # noqa: E402


class RecordPickler(pickle._Pickler):
    """Pickler that writes stub classes as GLOBAL <original module> <name> and their state."""

    def save_global(self, obj, name=None):
        if isinstance(obj, type) and issubclass(obj, Y.Stub):
            module, cls_name = obj._qualname.rsplit(".", 1)
            self.write(pickle.GLOBAL + module.encode() + b"\n" + cls_name.encode() + b"\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[type] = save_global


# state written back is what was recorded (NEWOBJ <class> + BUILD <state>), not the stub's attributes
Y.Stub.__reduce_ex__ = lambda self, proto: (copyreg.__newobj__, (type(self),), self.stub_state)

PICKLE_MODULE = types.ModuleType("record_pickle")
PICKLE_MODULE.Pickler = RecordPickler


def find_table(record, key):
    """-> (dict holding KEY's tensor, leaf name) inside the recorded module tree."""
    path, _, leaf = key.rpartition(".")
    recs = dict(Y.module_records(record))
    rec = recs.get(path)
    if rec is None:
        raise SystemExit("no module %s in the checkpoint" % path)
    for kind in ("_parameters", "_buffers"):
        table = rec.stub_state.get(kind) or {}
        if table.get(leaf) is not None:
            return table, leaf
    raise SystemExit("no tensor %s in the checkpoint" % key)


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    mode = argv[0]
    if mode == "truncate":
        src, dst = argv[1:3]
        data = open(src, "rb").read()
        open(dst, "wb").write(data[: len(data) // 2])
        return 0
    if mode == "evil":
        dst, marker = argv[1:3]

        class Evil:
            def __reduce__(self):
                return (os.system, ("touch " + marker,))

        torch.save({"model": Evil()}, dst)
        return 0
    if mode in ("reshape", "drop", "resave"):
        src, dst = argv[1:3]
        ckpt = Y.load_checkpoint(src)
        record, _, _, _ = Y.extract_model(ckpt)
        if mode != "resave":
            table, leaf = find_table(record, argv[3])
            if mode == "reshape":
                table[leaf] = table[leaf][:-1].clone()
            else:
                del table[leaf]
        torch.save(ckpt, dst, pickle_module=PICKLE_MODULE, pickle_protocol=2)
        return 0
    raise SystemExit("unknown mode %s" % mode)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
