# Every third-party dependency, found once. Modules link the imported targets PRIVATE:
# public headers include only sharpeyes/core and the standard library.
find_package(PkgConfig REQUIRED)
pkg_check_modules(GST REQUIRED IMPORTED_TARGET gstreamer-1.0 gstreamer-base-1.0 gstreamer-app-1.0
                  gstreamer-video-1.0 gstreamer-rtp-1.0 gstreamer-rtsp-1.0 gstreamer-pbutils-1.0)
pkg_check_modules(GST_RTSP_SERVER REQUIRED IMPORTED_TARGET gstreamer-rtsp-server-1.0)
pkg_check_modules(LIBAV REQUIRED IMPORTED_TARGET libavformat libavcodec libavutil libswscale)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
pkg_check_modules(GSOAP REQUIRED IMPORTED_TARGET gsoapssl++)
find_package(OpenCV 4 REQUIRED COMPONENTS core imgproc video videoio imgcodecs objdetect dnn)
find_package(Boost 1.74 REQUIRED)
find_package(cppzmq REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(PostgreSQL REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(Threads REQUIRED)
if(SHARPEYES_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

# Debian's OpenCV config exports plain library names; wrap them in one target.
add_library(sharpeyes_opencv INTERFACE)
target_include_directories(sharpeyes_opencv SYSTEM INTERFACE ${OpenCV_INCLUDE_DIRS})
target_link_libraries(sharpeyes_opencv INTERFACE ${OpenCV_LIBS})
add_library(sharpeyes::opencv ALIAS sharpeyes_opencv)
