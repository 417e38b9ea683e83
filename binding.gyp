{
  "targets": [
    {
      "target_name": "streamroll_native",
      "sources": ["src/kernels/native/kernels.c"],
      "cflags": ["-O3", "-ffp-contract=fast", "-std=gnu11", "-Wno-psabi"],
      "cflags!": ["-O2"]
    }
  ]
}
