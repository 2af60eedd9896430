#include "reorder_detector.h"

#include "h26x_depay.h"

namespace sharpeyes::ingest {

ReorderDetector::ReorderDetector(int clockRate) : clockRate_(clockRate > 0 ? clockRate : 90000) {}

bool ReorderDetector::observe(const AccessUnit& au) {
  return observe(au.rtpTime, au.discont);
}

bool ReorderDetector::observe(int64_t rtpTime, bool discont) {
  if (reordered_) return false;
  if (!haveMax_ || discont) {
    haveMax_ = true;
    maxRtp_ = rtpTime;
    return false;
  }
  if (rtpTime >= maxRtp_) {
    maxRtp_ = rtpTime;
    return false;
  }
  const int64_t back = maxRtp_ - rtpTime;
  if (back >= clockRate_) {
    maxRtp_ = rtpTime;  // the camera's clock restarted: compare from here
    return false;
  }
  reordered_ = true;
  stepBackMs_ = back * 1000 / clockRate_;
  return true;
}

}  // namespace sharpeyes::ingest
