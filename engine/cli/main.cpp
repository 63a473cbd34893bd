#include <cstdio>
int main() { std::puts("screen3d skeleton"); return 0; }
