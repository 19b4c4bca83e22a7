package api

// NoticeCameraEvent is the notification of a new event object (a sealed,
// hub-signed seal.Event) of a camera the account may view. The service
// knows nothing of what happened: the notification carries only CameraID,
// ObjectID and the object's coarse time (At). A client fetches the object
// (GET /v1/cameras/{id}/events or GET /v1/objects/{id}), decrypts and
// verifies it before showing anything.
const NoticeCameraEvent = "camera_event"
