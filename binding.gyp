{
  "variables": {
    # node scripts/build-addon.mjs --sanitize sets this for the ASan/UBSan build.
    "sanitize%": 0,
    # scripts/prebuild.mjs sets this to a prefix holding a position-independent
    # lib/libevent_core.a and its include/: libevent is then linked into the addon.
    "libevent_static%": ""
  },
  "targets": [
    {
      "target_name": "node_libevent",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/base.cc",
        "native/event.cc",
        "native/batch.cc",
        "native/loop.cc",
        "native/rewrite.cc",
        "native/strategies.cc",
        "native/io.cc",
        "native/iobuf.cc",
        "native/evbuffer.cc",
        "native/bufferevent.cc",
        "native/direct_write.cc",
        "native/chain_cache.cc",
        "native/relay.cc",
        "native/listener.cc",
        "native/ownfds.cc",
        "native/peercred.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "conditions": [
        ["libevent_static==''", {
          "cflags": ["<!@(pkg-config --cflags libevent_core)"],
          "libraries": ["<!@(pkg-config --libs libevent_core)"]
        }, {
          "include_dirs": ["<(libevent_static)/include"],
          "libraries": ["<(libevent_static)/lib/libevent_core.a"],
          # libevent's symbols stay private to the addon, so another copy in the process cannot clash.
          "ldflags": ["-Wl,--exclude-libs,ALL"]
        }],
        ["sanitize==1", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined", "-O1", "-g"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
