// The gSOAP interface for the ONVIF subset sharpeyes speaks (client in onvif/, simulated device in
// sim/onvif/). Hand-written from the ONVIF Core, Media, PTZ and Event specifications: only the
// operations and fields we use, so the generated code stays small. Elements we do not declare are
// skipped when parsing (gSOAP's default, non-strict mode), which is what lets real devices that
// send much more still parse. soapcpp2 runs on this file at build time (onvif/CMakeLists.txt).

#import "stlvector.h"
#import "wsdd10.h"  // WS-Discovery 2005/04 (what ONVIF uses) + WS-Addressing 2004/08
#import "dom.h"     // xsd__anyType (DOM): WS-Addressing reference parameters, namespaces kept
#import "wsse.h"    // WS-Security UsernameToken (build-time copy without SAML, see CMakeLists.txt)

//gsoap tt schema namespace: http://www.onvif.org/ver10/schema
//gsoap tt schema elementForm: qualified
//gsoap tt schema attributeForm: unqualified
//gsoap tds schema namespace: http://www.onvif.org/ver10/device/wsdl
//gsoap tds schema elementForm: qualified
//gsoap tds schema attributeForm: unqualified
//gsoap trt schema namespace: http://www.onvif.org/ver10/media/wsdl
//gsoap trt schema elementForm: qualified
//gsoap trt schema attributeForm: unqualified
//gsoap tptz schema namespace: http://www.onvif.org/ver20/ptz/wsdl
//gsoap tptz schema elementForm: qualified
//gsoap tptz schema attributeForm: unqualified
//gsoap tev schema namespace: http://www.onvif.org/ver10/events/wsdl
//gsoap tev schema elementForm: qualified
//gsoap tev schema attributeForm: unqualified
//gsoap wsnt schema namespace: http://docs.oasis-open.org/wsn/b-2
//gsoap wsnt schema elementForm: qualified
//gsoap wsnt schema attributeForm: unqualified
// Declared so that QNames in Probe Types, event topics and fault subcodes get their prefixes.
//gsoap dn schema namespace: http://www.onvif.org/ver10/network/wsdl
//gsoap tns1 schema namespace: http://www.onvif.org/ver10/topics
//gsoap ter schema namespace: http://www.onvif.org/ver10/error
// WS-Addressing 2005/08 only for the subscription reference of events. gsoap's wsa5.h cannot be
// imported beside wsa.h (which WS-Discovery 2005/04 needs): both declare the SOAP Fault header.
//gsoap wsa5 schema namespace: http://www.w3.org/2005/08/addressing
//gsoap wsa5 schema elementForm: qualified
//gsoap wsa5 schema attributeForm: unqualified

typedef std::string xsd__anyURI;
typedef std::string xsd__dateTime_;  // kept as text: devices format it in many ways
typedef std::string xsd__duration;   // "PT5S"

// Reference parameters (e.g. Axis's SubscriptionId) must be echoed as SOAP headers on every
// operation addressed to the endpoint; DOM keeps their namespaces for that.
class wsa5__ReferenceParametersType { public: std::vector<xsd__anyType> __any; };
class wsa5__EndpointReferenceType { public:
  xsd__anyURI Address 1;
  wsa5__ReferenceParametersType* ReferenceParameters 0;
};

// WS-Addressing 2005/08 message headers. ONVIF event operations on a subscription (PullMessages,
// Renew, Unsubscribe) are addressed by wsa5:To = the subscription reference address, with
// wsa5:Action and wsa5:MessageID; many cameras refuse them otherwise. Merged into the header that
// wsa.h declares (it is `mutable`); plain strings because only the values matter to us.
typedef char* _wsa5__MessageID;
typedef char* _wsa5__RelatesTo;
typedef char* _wsa5__To;
typedef char* _wsa5__Action;
mutable struct SOAP_ENV__Header {
  _wsa5__MessageID wsa5__MessageID 0;
  _wsa5__RelatesTo wsa5__RelatesTo 0;
  mustUnderstand _wsa5__To wsa5__To 0;
  mustUnderstand _wsa5__Action wsa5__Action 0;
  std::vector<xsd__anyType> __any;  // echoed reference parameters (and other unknown headers)
};

// ---------------------------------------------------------------------------------------------
// tt: common schema
// ---------------------------------------------------------------------------------------------

enum tt__CapabilityCategory { tt__CapabilityCategory__All, tt__CapabilityCategory__Analytics,
  tt__CapabilityCategory__Device, tt__CapabilityCategory__Events, tt__CapabilityCategory__Imaging,
  tt__CapabilityCategory__Media, tt__CapabilityCategory__PTZ };

class tt__DeviceCapabilities { public:
  xsd__anyURI XAddr 1;
};
class tt__EventCapabilities { public:
  xsd__anyURI XAddr 1;
  bool* WSSubscriptionPolicySupport 0;
  bool* WSPullPointSupport 0;
  bool* WSPausableSubscriptionManagerInterfaceSupport 0;
};
class tt__RealTimeStreamingCapabilities { public:
  bool* RTPMulticast 0;
  bool* RTP_USCORETCP 0;
  bool* RTP_USCORERTSP_USCORETCP 0;
};
class tt__MediaCapabilities { public:
  xsd__anyURI XAddr 1;
  tt__RealTimeStreamingCapabilities* StreamingCapabilities 0;
};
class tt__PTZCapabilities { public:
  xsd__anyURI XAddr 1;
};
class tt__Capabilities { public:
  tt__DeviceCapabilities* Device 0;
  tt__EventCapabilities* Events 0;
  tt__MediaCapabilities* Media 0;
  tt__PTZCapabilities* PTZ 0;
};

class tt__Time { public: int Hour 1; int Minute 1; int Second 1; };
class tt__Date { public: int Year 1; int Month 1; int Day 1; };
class tt__DateTime { public: tt__Time* Time 1; tt__Date* Date 1; };
class tt__TimeZone { public: std::string TZ 1; };
enum tt__SetDateTimeType { tt__SetDateTimeType__Manual, tt__SetDateTimeType__NTP };
class tt__SystemDateTime { public:
  enum tt__SetDateTimeType DateTimeType 1;
  bool DaylightSavings 1;
  tt__TimeZone* TimeZone 0;
  tt__DateTime* UTCDateTime 0;
  tt__DateTime* LocalDateTime 0;
};

class tt__IntRectangle { public:
  @int x 1; @int y 1; @int width 1; @int height 1;
};
class tt__VideoResolution { public: int Width 1; int Height 1; };
class tt__VideoRateControl { public: int FrameRateLimit 1; int EncodingInterval 1; int BitrateLimit 1; };
enum tt__VideoEncoding { tt__VideoEncoding__JPEG, tt__VideoEncoding__MPEG4, tt__VideoEncoding__H264 };
class tt__H264Configuration { public: int GovLength 1; std::string H264Profile 1; };
class tt__VideoSourceConfiguration { public:
  @std::string token 1;
  std::string Name 1;
  int UseCount 1;
  std::string SourceToken 1;
  tt__IntRectangle* Bounds 1;
};
class tt__VideoEncoderConfiguration { public:
  @std::string token 1;
  std::string Name 1;
  int UseCount 1;
  enum tt__VideoEncoding Encoding 1;
  tt__VideoResolution* Resolution 1;
  float Quality 1;
  tt__VideoRateControl* RateControl 0;
  tt__H264Configuration* H264 0;
  xsd__duration* SessionTimeout 0;
};
class tt__PTZConfiguration { public:
  @std::string token 1;
  std::string Name 1;
  int UseCount 1;
  std::string NodeToken 1;
};
class tt__Profile { public:
  @std::string token 1;
  @bool* fixed 0;
  std::string Name 1;
  tt__VideoSourceConfiguration* VideoSourceConfiguration 0;
  tt__VideoEncoderConfiguration* VideoEncoderConfiguration 0;
  tt__PTZConfiguration* PTZConfiguration 0;
};
class tt__VideoSource { public:
  @std::string token 1;
  float Framerate 1;
  tt__VideoResolution* Resolution 1;
};

enum tt__StreamType { tt__StreamType__RTP_Unicast, tt__StreamType__RTP_Multicast };
enum tt__TransportProtocol { tt__TransportProtocol__UDP, tt__TransportProtocol__TCP,
  tt__TransportProtocol__RTSP, tt__TransportProtocol__HTTP };
class tt__Transport { public:
  enum tt__TransportProtocol Protocol 1;
  tt__Transport* Tunnel 0;
};
class tt__StreamSetup { public:
  enum tt__StreamType Stream 1;
  tt__Transport* Transport 1;
};
class tt__MediaUri { public:
  xsd__anyURI Uri 1;
  bool InvalidAfterConnect 1;
  bool InvalidAfterReboot 1;
  xsd__duration Timeout 1;
};

// PTZ vocabulary
class tt__Vector2D { public: @float x 1; @float y 1; @xsd__anyURI* space 0; };
class tt__Vector1D { public: @float x 1; @xsd__anyURI* space 0; };
class tt__PTZVector { public: tt__Vector2D* PanTilt 0; tt__Vector1D* Zoom 0; };
class tt__PTZSpeed { public: tt__Vector2D* PanTilt 0; tt__Vector1D* Zoom 0; };
class tt__FloatRange { public: float Min 1; float Max 1; };
class tt__Space2DDescription { public:
  xsd__anyURI URI 1; tt__FloatRange* XRange 1; tt__FloatRange* YRange 1;
};
class tt__Space1DDescription { public: xsd__anyURI URI 1; tt__FloatRange* XRange 1; };
class tt__PTZSpaces { public:
  std::vector<tt__Space2DDescription*> AbsolutePanTiltPositionSpace 0;
  std::vector<tt__Space1DDescription*> AbsoluteZoomPositionSpace 0;
  std::vector<tt__Space2DDescription*> ContinuousPanTiltVelocitySpace 0;
  std::vector<tt__Space1DDescription*> ContinuousZoomVelocitySpace 0;
};
class tt__PTZNode { public:
  @std::string token 1;
  @bool* FixedHomePosition 0;
  std::string* Name 0;
  tt__PTZSpaces* SupportedPTZSpaces 1;
  int MaximumNumberOfPresets 1;
  bool HomeSupported 1;
};
class tt__PTZPreset { public:
  @std::string* token 0;
  std::string* Name 0;
  tt__PTZVector* PTZPosition 0;
};
enum tt__MoveStatus { tt__MoveStatus__IDLE, tt__MoveStatus__MOVING, tt__MoveStatus__UNKNOWN };
class tt__PTZMoveStatus { public: enum tt__MoveStatus* PanTilt 0; enum tt__MoveStatus* Zoom 0; };
class tt__PTZStatus { public:
  tt__PTZVector* Position 0;
  tt__PTZMoveStatus* MoveStatus 0;
  xsd__dateTime_ UtcTime 1;
};

// Event message payload (ONVIF Core 9.x: tt:Message inside wsnt:Message)
class _tt__SimpleItem { public: @std::string Name 1; @std::string Value 1; };
class tt__ItemList { public: std::vector<_tt__SimpleItem> SimpleItem 0; };
enum tt__PropertyOperation { tt__PropertyOperation__Initialized, tt__PropertyOperation__Deleted,
  tt__PropertyOperation__Changed };
class _tt__Message { public:
  @xsd__dateTime_ UtcTime 1;
  @enum tt__PropertyOperation* PropertyOperation 0;
  tt__ItemList* Source 0;
  tt__ItemList* Key 0;
  tt__ItemList* Data 0;
};

// ---------------------------------------------------------------------------------------------
// wsnt: WS-BaseNotification subset
// ---------------------------------------------------------------------------------------------

class wsnt__TopicExpressionType { public:
  std::string __mixed;  // "tns1:VideoSource/MotionAlarm"
  @xsd__anyURI Dialect 1;
};
class _wsnt__NotificationMessageHolderType_Message { public:
  _tt__Message* tt__Message 0;
};
class wsnt__NotificationMessageHolderType { public:
  wsa5__EndpointReferenceType* SubscriptionReference 0;
  wsnt__TopicExpressionType* Topic 0;
  wsa5__EndpointReferenceType* ProducerReference 0;
  _wsnt__NotificationMessageHolderType_Message Message 1;
};
class _wsnt__Renew { public: std::string TerminationTime 1; };
class _wsnt__RenewResponse { public:
  xsd__dateTime_ TerminationTime 1;
  xsd__dateTime_* CurrentTime 0;
};
class _wsnt__Unsubscribe { public: };
class _wsnt__UnsubscribeResponse { public: };

// ---------------------------------------------------------------------------------------------
// tds: device service
// ---------------------------------------------------------------------------------------------

class _tds__GetDeviceInformation { public: };
class _tds__GetDeviceInformationResponse { public:
  std::string Manufacturer 1;
  std::string Model 1;
  std::string FirmwareVersion 1;
  std::string SerialNumber 1;
  std::string HardwareId 1;
};
class _tds__GetCapabilities { public: std::vector<enum tt__CapabilityCategory> Category 0; };
class _tds__GetCapabilitiesResponse { public: tt__Capabilities* Capabilities 1; };
class tt__OnvifVersion { public: int Major 1; int Minor 1; };
class tds__Service { public:
  xsd__anyURI Namespace 1;
  xsd__anyURI XAddr 1;
  tt__OnvifVersion* Version 1;
};
class _tds__GetServices { public: bool IncludeCapability 1; };
class _tds__GetServicesResponse { public: std::vector<tds__Service*> Service 1; };
class _tds__GetSystemDateAndTime { public: };
class _tds__GetSystemDateAndTimeResponse { public: tt__SystemDateTime* SystemDateAndTime 1; };

// ---------------------------------------------------------------------------------------------
// trt: media service
// ---------------------------------------------------------------------------------------------

class _trt__GetProfiles { public: };
class _trt__GetProfilesResponse { public: std::vector<tt__Profile*> Profiles 0; };
class _trt__GetVideoSources { public: };
class _trt__GetVideoSourcesResponse { public: std::vector<tt__VideoSource*> VideoSources 0; };
class _trt__GetStreamUri { public: tt__StreamSetup* StreamSetup 1; std::string ProfileToken 1; };
class _trt__GetStreamUriResponse { public: tt__MediaUri* MediaUri 1; };
class _trt__GetSnapshotUri { public: std::string ProfileToken 1; };
class _trt__GetSnapshotUriResponse { public: tt__MediaUri* MediaUri 1; };

// ---------------------------------------------------------------------------------------------
// tptz: PTZ service
// ---------------------------------------------------------------------------------------------

class _tptz__GetNodes { public: };
class _tptz__GetNodesResponse { public: std::vector<tt__PTZNode*> PTZNode 0; };
class _tptz__ContinuousMove { public:
  std::string ProfileToken 1;
  tt__PTZSpeed* Velocity 1;
  xsd__duration* Timeout 0;
};
class _tptz__ContinuousMoveResponse { public: };
class _tptz__Stop { public: std::string ProfileToken 1; bool* PanTilt 0; bool* Zoom 0; };
class _tptz__StopResponse { public: };
class _tptz__AbsoluteMove { public:
  std::string ProfileToken 1;
  tt__PTZVector* Position 1;
  tt__PTZSpeed* Speed 0;
};
class _tptz__AbsoluteMoveResponse { public: };
class _tptz__GetPresets { public: std::string ProfileToken 1; };
class _tptz__GetPresetsResponse { public: std::vector<tt__PTZPreset*> Preset 0; };
class _tptz__SetPreset { public:
  std::string ProfileToken 1;
  std::string* PresetName 0;
  std::string* PresetToken 0;
};
class _tptz__SetPresetResponse { public: std::string PresetToken 1; };
class _tptz__GotoPreset { public:
  std::string ProfileToken 1;
  std::string PresetToken 1;
  tt__PTZSpeed* Speed 0;
};
class _tptz__GotoPresetResponse { public: };
class _tptz__GetStatus { public: std::string ProfileToken 1; };
class _tptz__GetStatusResponse { public: tt__PTZStatus* PTZStatus 1; };

// ---------------------------------------------------------------------------------------------
// tev: event service (pull point)
// ---------------------------------------------------------------------------------------------

class _tev__CreatePullPointSubscription { public:
  std::string* InitialTerminationTime 0;
};
class _tev__CreatePullPointSubscriptionResponse { public:
  wsa5__EndpointReferenceType SubscriptionReference 1;
  xsd__dateTime_ wsnt__CurrentTime 1;
  xsd__dateTime_ wsnt__TerminationTime 1;
};
class _tev__PullMessages { public: xsd__duration Timeout 1; int MessageLimit 1; };
class _tev__PullMessagesResponse { public:
  xsd__dateTime_ CurrentTime 1;
  xsd__dateTime_ TerminationTime 1;
  std::vector<wsnt__NotificationMessageHolderType*> wsnt__NotificationMessage 0;
};

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

//gsoap tds service name: DeviceBinding
//gsoap tds service namespace: http://www.onvif.org/ver10/device/wsdl
//gsoap tds service style: document
//gsoap tds service encoding: literal
//gsoap tds service method-action: GetDeviceInformation http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation
int __tds__GetDeviceInformation(_tds__GetDeviceInformation* tds__GetDeviceInformation, _tds__GetDeviceInformationResponse& tds__GetDeviceInformationResponse);
//gsoap tds service method-action: GetCapabilities http://www.onvif.org/ver10/device/wsdl/GetCapabilities
int __tds__GetCapabilities(_tds__GetCapabilities* tds__GetCapabilities, _tds__GetCapabilitiesResponse& tds__GetCapabilitiesResponse);
//gsoap tds service method-action: GetServices http://www.onvif.org/ver10/device/wsdl/GetServices
int __tds__GetServices(_tds__GetServices* tds__GetServices, _tds__GetServicesResponse& tds__GetServicesResponse);
//gsoap tds service method-action: GetSystemDateAndTime http://www.onvif.org/ver10/device/wsdl/GetSystemDateAndTime
int __tds__GetSystemDateAndTime(_tds__GetSystemDateAndTime* tds__GetSystemDateAndTime, _tds__GetSystemDateAndTimeResponse& tds__GetSystemDateAndTimeResponse);

//gsoap trt service name: MediaBinding
//gsoap trt service namespace: http://www.onvif.org/ver10/media/wsdl
//gsoap trt service style: document
//gsoap trt service encoding: literal
//gsoap trt service method-action: GetProfiles http://www.onvif.org/ver10/media/wsdl/GetProfiles
int __trt__GetProfiles(_trt__GetProfiles* trt__GetProfiles, _trt__GetProfilesResponse& trt__GetProfilesResponse);
//gsoap trt service method-action: GetVideoSources http://www.onvif.org/ver10/media/wsdl/GetVideoSources
int __trt__GetVideoSources(_trt__GetVideoSources* trt__GetVideoSources, _trt__GetVideoSourcesResponse& trt__GetVideoSourcesResponse);
//gsoap trt service method-action: GetStreamUri http://www.onvif.org/ver10/media/wsdl/GetStreamUri
int __trt__GetStreamUri(_trt__GetStreamUri* trt__GetStreamUri, _trt__GetStreamUriResponse& trt__GetStreamUriResponse);
//gsoap trt service method-action: GetSnapshotUri http://www.onvif.org/ver10/media/wsdl/GetSnapshotUri
int __trt__GetSnapshotUri(_trt__GetSnapshotUri* trt__GetSnapshotUri, _trt__GetSnapshotUriResponse& trt__GetSnapshotUriResponse);

//gsoap tptz service name: PTZBinding
//gsoap tptz service namespace: http://www.onvif.org/ver20/ptz/wsdl
//gsoap tptz service style: document
//gsoap tptz service encoding: literal
//gsoap tptz service method-action: GetNodes http://www.onvif.org/ver20/ptz/wsdl/GetNodes
int __tptz__GetNodes(_tptz__GetNodes* tptz__GetNodes, _tptz__GetNodesResponse& tptz__GetNodesResponse);
//gsoap tptz service method-action: ContinuousMove http://www.onvif.org/ver20/ptz/wsdl/ContinuousMove
int __tptz__ContinuousMove(_tptz__ContinuousMove* tptz__ContinuousMove, _tptz__ContinuousMoveResponse& tptz__ContinuousMoveResponse);
//gsoap tptz service method-action: Stop http://www.onvif.org/ver20/ptz/wsdl/Stop
int __tptz__Stop(_tptz__Stop* tptz__Stop, _tptz__StopResponse& tptz__StopResponse);
//gsoap tptz service method-action: AbsoluteMove http://www.onvif.org/ver20/ptz/wsdl/AbsoluteMove
int __tptz__AbsoluteMove(_tptz__AbsoluteMove* tptz__AbsoluteMove, _tptz__AbsoluteMoveResponse& tptz__AbsoluteMoveResponse);
//gsoap tptz service method-action: GetPresets http://www.onvif.org/ver20/ptz/wsdl/GetPresets
int __tptz__GetPresets(_tptz__GetPresets* tptz__GetPresets, _tptz__GetPresetsResponse& tptz__GetPresetsResponse);
//gsoap tptz service method-action: SetPreset http://www.onvif.org/ver20/ptz/wsdl/SetPreset
int __tptz__SetPreset(_tptz__SetPreset* tptz__SetPreset, _tptz__SetPresetResponse& tptz__SetPresetResponse);
//gsoap tptz service method-action: GotoPreset http://www.onvif.org/ver20/ptz/wsdl/GotoPreset
int __tptz__GotoPreset(_tptz__GotoPreset* tptz__GotoPreset, _tptz__GotoPresetResponse& tptz__GotoPresetResponse);
//gsoap tptz service method-action: GetStatus http://www.onvif.org/ver20/ptz/wsdl/GetStatus
int __tptz__GetStatus(_tptz__GetStatus* tptz__GetStatus, _tptz__GetStatusResponse& tptz__GetStatusResponse);

//gsoap tev service name: EventBinding
//gsoap tev service namespace: http://www.onvif.org/ver10/events/wsdl
//gsoap tev service style: document
//gsoap tev service encoding: literal
//gsoap tev service method-action: CreatePullPointSubscription http://www.onvif.org/ver10/events/wsdl/EventPortType/CreatePullPointSubscriptionRequest
int __tev__CreatePullPointSubscription(_tev__CreatePullPointSubscription* tev__CreatePullPointSubscription, _tev__CreatePullPointSubscriptionResponse& tev__CreatePullPointSubscriptionResponse);
//gsoap tev service method-action: PullMessages http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest
int __tev__PullMessages(_tev__PullMessages* tev__PullMessages, _tev__PullMessagesResponse& tev__PullMessagesResponse);
//gsoap tev service method-action: Renew http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest
int __tev__Renew(_wsnt__Renew* wsnt__Renew, _wsnt__RenewResponse& wsnt__RenewResponse);
//gsoap tev service method-action: Unsubscribe http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest
int __tev__Unsubscribe(_wsnt__Unsubscribe* wsnt__Unsubscribe, _wsnt__UnsubscribeResponse& wsnt__UnsubscribeResponse);
