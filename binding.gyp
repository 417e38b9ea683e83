{
  "targets": [
    {
      "target_name": "streamroll_native",
      "sources": ["src/kernels/native/kernels.c"],
      "cflags": ["-O3", "-march=native", "-ffp-contract=fast", "-std=gnu11"],
      "cflags!": ["-O2"]
    }
  ]
}
