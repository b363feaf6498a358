# CMake generated Testfile for 
# Source directory: /work/main
# Build directory: /work/main/build
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
subdirs("src/util")
subdirs("src/model")
subdirs("src/mapi")
subdirs("src/format/pst")
subdirs("src/source")
subdirs("src/mime")
subdirs("src/sink")
subdirs("src/gen")
subdirs("src/pipeline")
subdirs("tools")
subdirs("tests")
subdirs("bench")
