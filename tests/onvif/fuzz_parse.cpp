#include "fuzz_parse.h"

#include <sstream>
#include <string>

#include "soap_support.h"

namespace sharpeyes::onvif::fuzz {

namespace {
template <typename Response, typename Recv>
int tryOne(const std::string& input, Recv recv) {
  soap_support::Limits limits;
  limits.maxMessageBytes = 1u << 20;
  auto soap = soap_support::newContext(limits);
  std::istringstream in(input);
  soap->is = &in;
  Response resp;
  const int rc = recv(soap.get(), resp);
  soap->is = nullptr;
  return rc == SOAP_OK ? 1 : 0;
}
}  // namespace

int parseResponse(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  int ok = 0;
  ok += tryOne<_tds__GetDeviceInformationResponse>(
      input, [](struct soap* s, auto& r) { return soap_recv___tds__GetDeviceInformation(s, r); });
  ok += tryOne<_tds__GetCapabilitiesResponse>(
      input, [](struct soap* s, auto& r) { return soap_recv___tds__GetCapabilities(s, r); });
  ok += tryOne<_tds__GetSystemDateAndTimeResponse>(
      input, [](struct soap* s, auto& r) { return soap_recv___tds__GetSystemDateAndTime(s, r); });
  ok += tryOne<_trt__GetProfilesResponse>(
      input, [](struct soap* s, auto& r) { return soap_recv___trt__GetProfiles(s, r); });
  ok += tryOne<_trt__GetStreamUriResponse>(
      input, [](struct soap* s, auto& r) { return soap_recv___trt__GetStreamUri(s, r); });
  ok += tryOne<_tptz__GetNodesResponse>(
      input, [](struct soap* s, auto& r) { return soap_recv___tptz__GetNodes(s, r); });
  ok += tryOne<_tev__CreatePullPointSubscriptionResponse>(input, [](struct soap* s, auto& r) {
    return soap_recv___tev__CreatePullPointSubscription(s, r);
  });
  ok += tryOne<_tev__PullMessagesResponse>(
      input, [](struct soap* s, auto& r) { return soap_recv___tev__PullMessages(s, r); });
  return ok;
}

}  // namespace sharpeyes::onvif::fuzz

// libFuzzer entry (built only with -DSHARPEYES_ONVIF_FUZZER=ON and clang).
#ifdef SHARPEYES_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sharpeyes::onvif::fuzz::parseResponse(data, size);
  return 0;
}
#endif
