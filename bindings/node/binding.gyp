{
  "targets": [
    {
      "target_name": "atomicfile",
      "sources": [
        "src/addon.cc",
        "<!@(node -p \"require('fs').readdirSync('../../src').filter(f => f.endsWith('.c')).map(f => '../../src/' + f).join(' ')\")"
      ],
      "actions": [
        {
          "action_name": "config_h",
          "inputs": ["../gen_config.py"],
          "outputs": ["<(INTERMEDIATE_DIR)/afile_config/config.h"],
          "action": ["python3", "../gen_config.py", "<(INTERMEDIATE_DIR)/afile_config/config.h"]
        }
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<(INTERMEDIATE_DIR)/afile_config",
        "../../include",
        "../../src"
      ],
      "defines": ["_GNU_SOURCE", "AFILE_API=", "NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags": ["-fvisibility=hidden"],
      "cflags_c": ["-std=gnu11"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden"]
    }
  ]
}
